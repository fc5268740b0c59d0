import { spawn, spawnSync } from "node:child_process"
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { appendDeadLetter } from "../../src/degradation/CreditJournal.ts"
import { deadLetterPath } from "../../src/degradation/DeadLetters.ts"
import { nodeBinary } from "../chaos/support/serviceProcess.ts"
import { ADMIN_KEY, type AdminFixture, adminCall, type GameResult, playGameOverGrpc, startAdminFixture } from "./support/adminFixture.ts"

const ROOT = fileURLToPath(new URL("../../", import.meta.url))

interface CliRun {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs `balance-admin` from source (Node 24 strips the types) with only the given environment. */
const cliWith = (node: string, script: string) => (args: ReadonlyArray<string>, env: Readonly<Record<string, string>>): Promise<CliRun> =>
  new Promise((resolve, reject) => {
    const child = spawn(node, [script, ...args], { cwd: ROOT, env: { PATH: process.env["PATH"] ?? "", ...env } })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (c) => (stdout += c))
    child.stderr.on("data", (c) => (stderr += c))
    child.on("error", reject)
    child.on("exit", (code) => resolve({ code, stdout, stderr }))
  })

describe("balance-admin CLI against the real service", () => {
  let f: AdminFixture
  let game: GameResult
  let env: Record<string, string>
  const cli = (args: ReadonlyArray<string>, extraEnv: Record<string, string> = {}) =>
    cliWith(nodeBinary(), "src/cli/main.ts")(args, { ...env, ...extraEnv })
  const json = async (args: ReadonlyArray<string>) => {
    const r = await cli([...args, "--json"])
    expect(r.stderr.includes("balance-admin:") ? r.stderr : "").toBe("")
    expect(r.code).toBe(0)
    return JSON.parse(r.stdout)
  }

  beforeAll(async () => {
    f = await startAdminFixture()
    env = { BALANCE_API_URL: f.apiUrl, ADMIN_API_KEY: ADMIN_KEY }
    game = await playGameOverGrpc(f, { prefix: "cli", hands: 3 })
  })
  afterAll(async () => {
    await f?.stop()
  })

  it("deposit prints the generated idempotency key; the same key again moves nothing", async () => {
    const first = await cli(["deposit", "cli-p1", "250", "--json"])
    expect(first.code).toBe(0)
    const key = /idempotency key: (\S+)/.exec(first.stderr)?.[1]
    const body = JSON.parse(first.stdout)
    expect(body).toMatchObject({ idempotencyKey: key, replayed: false })
    const again = JSON.parse((await cli(["deposit", "cli-p1", "250", "--key", key!, "--json"])).stdout)
    expect(again).toMatchObject({ transactionId: body.transactionId, balance: body.balance, replayed: true })
  })

  it("balance and ledger as human tables", async () => {
    const balance = await cli(["balance", "cli-p2"])
    const expected = (await adminCall(f, "GET", "/accounts/cli-p2/balance")).balance as number
    expect(balance.code).toBe(0)
    expect(balance.stdout).toMatch(new RegExp(`^balance\\s+${expected.toLocaleString("en-US")}$`, "m"))
    const ledger = await cli(["ledger", "cli-p2", "--limit", "3"])
    expect(ledger.stdout.split("\n")[0]).toMatch(/^seq\s+type\s+amount\s+balance/)
    expect(ledger.stdout).toMatch(/^\s*1\s+GRANT\s+1,000\s+1,000/m)
    expect(ledger.stdout).toMatch(/^\s*2\s+DEPOSIT\s+500\s+1,500/m)
    expect(ledger.stdout).toContain("more: --cursor 3")
  })

  it("overview, accounts by prefix and transactions", async () => {
    const overview = await cli(["overview"])
    expect(overview.code).toBe(0)
    expect(overview.stdout).toMatch(/^store\s+up \(/m)
    // The archive is on by default: the service archives into its private PostgreSQL.
    expect(overview.stdout).toMatch(/^archive\s+(ACTIVE|LAGGING): /m)
    expect(overview.stdout).toMatch(/^zero sum\s+true$/m)
    const accounts = await cli(["accounts", "--prefix", "cli-p", "--limit", "2"])
    expect(accounts.stdout.split("\n").slice(2, 4).map((l) => l.split(/\s+/)[0])).toEqual(["cli-p1", "cli-p2"])
    expect(accounts.stdout).toMatch(/^more: --cursor \S+$/m)
    const transactions = await json(["transactions", "cli-p3", "--limit", "1"])
    expect(transactions.items).toEqual([expect.objectContaining({ type: "CASH_OUT", direction: "CREDIT" })])
  })

  it("a refused withdrawal exits 1 with the API's code; bad usage exits 2", async () => {
    const refused = await cli(["withdraw", "cli-p3", "99999999"])
    expect(refused.code).toBe(1)
    expect(refused.stderr).toContain("422 INSUFFICIENT_BALANCE")
    const badAmount = await cli(["deposit", "cli-p3", "1.5"])
    expect([badAmount.code, badAmount.stderr.includes("amount must be a whole number")]).toEqual([2, true])
    // A whole number above the limit is told the limit, not that it is no whole number.
    const tooBig = await cli(["deposit", "cli-p3", "9007199254740992"])
    expect(tooBig.code).toBe(2)
    expect(tooBig.stderr).toContain(`amount must be at most 9007199254740991 chips, not "9007199254740992"`)
    const unknown = await cli(["frobnicate"])
    expect(unknown.code).toBe(2)
  })

  it("verify shows a progress bar and the report", async () => {
    const r = await cli(["verify"])
    expect(r.code).toBe(0)
    expect(r.stderr).toMatch(/\[#{30}\] 100%\s+\d+\/\d+ accounts, \d+ entries, 0 findings/)
    expect(r.stdout).toMatch(/^result\s+OK$/m)
    expect(r.stdout).toMatch(/^sum of balances\s+0$/m)
  })

  it("supply and the economy reports agree with the game", async () => {
    const supply = await json(["supply"])
    expect(supply).toMatchObject({ raked: game.raked, zeroSum: true })
    const flows = await json(["economy", "flows"])
    expect(flows.raked).toBe(game.raked)
    expect(flows.byType.CONTRIBUTION).toEqual({ chips: 3 * 3 * 20, transfers: 9 })
    const series = await json(["economy", "supply", "--bucket", "hour"])
    expect(series.points.at(-1)).toMatchObject({ supply: supply.minted - supply.burned, circulation: supply.circulation })
    const rake = await cli(["economy", "rake"])
    expect(rake.stdout).toMatch(new RegExp(`^${game.tableId}\\s+${game.raked}\\s+3\\s+180$`, "m"))
    const movers = await json(["economy", "movers", "--limit", "3"])
    expect(movers.items.map((m: { accountId: string }) => m.accountId).sort()).toEqual([...game.players].sort())
    const reservations = await cli(["economy", "reservations"])
    expect(reservations.stdout).toMatch(/^committed\s+3$/m)
  })

  it("dead letters: listed, retried with the original key", async () => {
    expect((await cli(["dead-letters"])).stdout).toContain("0 open")
    const id = "3b0d8f9e-1c2a-4d5e-8f70-aa11bb22cc33"
    await appendDeadLetter(deadLetterPath(f.service.dataDir), {
      id, enqueuedAt: Date.now(), deadLetteredAt: Date.now(),
      command: { op: "Deposit", accountId: "cli-p3", amount: 40, source: "PROMO", idempotencyKey: "cli-dead-deposit" },
      error: "ACCOUNT_NOT_FOUND", message: "account cli-p3 does not exist"
    })
    const list = await cli(["dead-letters", "list"])
    expect(list.stdout).toMatch(new RegExp(`^${id}\\s+Deposit\\s+cli-p3\\s+40\\s+ACCOUNT_NOT_FOUND\\s+OPEN`, "m"))
    const retried = await json(["dead-letters", "retry", id])
    expect(retried).toMatchObject({ retry: { outcome: "APPLIED" }, deadLetter: { status: "RESOLVED" } })
    const again = await cli(["dead-letters", "retry", id])
    expect([again.code, again.stderr.includes("409 DEAD_LETTER_RESOLVED")]).toEqual([1, true])
  })

  it("archive status, and the key read from DATA_DIR/admin-api-key", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "cli-key-"))
    writeFileSync(join(dataDir, "admin-api-key"), `${ADMIN_KEY}\n`)
    const r = await cliWith(nodeBinary(), "src/cli/main.ts")(["archive"], { BALANCE_API_URL: f.apiUrl, DATA_DIR: dataDir })
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/^state\s+(ACTIVE|LAGGING)$/m)
    expect(r.stdout).toMatch(/^database\s+embedded$/m)
    const noKey = await cliWith(nodeBinary(), "src/cli/main.ts")(["archive"], { BALANCE_API_URL: f.apiUrl, DATA_DIR: join(dataDir, "missing") })
    expect([noKey.code, noKey.stderr.includes("no admin key: set ADMIN_API_KEY")]).toEqual([2, true])
    const wrongKey = await cli(["archive"], { ADMIN_API_KEY: "not-the-key" })
    expect([wrongKey.code, wrongKey.stderr.includes("401 INVALID_ADMIN_KEY")]).toEqual([1, true])
    const down = await cli(["archive"], { BALANCE_API_URL: "http://127.0.0.1:9/api" })
    expect([down.code, down.stderr.includes("cannot reach http://127.0.0.1:9/api")]).toEqual([1, true])
  })

  it("the bin script runs the compiled CLI on the system's Node (not only the pinned 24)", async () => {
    const systemNode = ["/usr/bin/node", "/usr/local/bin/node"].find(existsSync) ?? nodeBinary()
    const out = mkdtempSync(join(tmpdir(), "cli-build-"))
    const tsc = spawnSync(nodeBinary(), [join(ROOT, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.build.json", "--outDir", join(out, "dist")], { cwd: ROOT, encoding: "utf8" })
    expect(tsc.stdout + tsc.stderr).toBe("")
    mkdirSync(join(out, "bin"))
    copyFileSync(join(ROOT, "bin/balance-admin.js"), join(out, "bin/balance-admin.js"))
    writeFileSync(join(out, "package.json"), JSON.stringify({ type: "module" }))
    const r = await cliWith(systemNode, join(out, "bin/balance-admin.js"))(["balance", "cli-p1", "--json"], env)
    expect(r.stderr).toBe("")
    expect(r.code).toBe(0)
    expect(JSON.parse(r.stdout)).toMatchObject({ accountId: "cli-p1", currency: "CHIPS" })
  })
})

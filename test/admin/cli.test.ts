import { spawn, spawnSync } from "node:child_process"
import { type AddressInfo, createServer } from "node:net"
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
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
    assert.strictEqual(r.stderr.includes("balance-admin:") ? r.stderr : "", "")
    assert.strictEqual(r.code, 0)
    return JSON.parse(r.stdout)
  }

  beforeAll(async () => {
    // One instance on the test Redis (REDIS_URL), archiving into its private PostgreSQL: on a Redis
    // of REDIS_URL without DATABASE_URL the archive is on only when asked for.
    f = await startAdminFixture({ HISTORY_ARCHIVE: "on" })
    env = { BALANCE_API_URL: f.apiUrl, ADMIN_API_KEY: ADMIN_KEY }
    game = await playGameOverGrpc(f, { prefix: "cli", hands: 3 })
  })
  afterAll(async () => {
    await f?.stop()
  })

  it("deposit prints the generated idempotency key; the same key again moves nothing", async () => {
    const first = await cli(["deposit", "cli-p1", "250", "--json"])
    assert.strictEqual(first.code, 0)
    const key = /idempotency key: (\S+)/.exec(first.stderr)?.[1]
    const body = JSON.parse(first.stdout)
    assert.containSubset(body, { idempotencyKey: key, replayed: false })
    const again = JSON.parse((await cli(["deposit", "cli-p1", "250", "--key", key!, "--json"])).stdout)
    assert.containSubset(again, { transactionId: body.transactionId, balance: body.balance, replayed: true })
  })

  it("balance and ledger as human tables", async () => {
    const balance = await cli(["balance", "cli-p2"])
    const expected = (await adminCall(f, "GET", "/accounts/cli-p2/balance")).balance as number
    assert.strictEqual(balance.code, 0)
    assert.match(balance.stdout, new RegExp(`^balance\\s+${expected.toLocaleString("en-US")}$`, "m"))
    const ledger = await cli(["ledger", "cli-p2", "--limit", "3"])
    assert.match(ledger.stdout.split("\n")[0] ?? "", /^seq\s+type\s+amount\s+balance/)
    assert.match(ledger.stdout, /^\s*1\s+GRANT\s+1,000\s+1,000/m)
    assert.match(ledger.stdout, /^\s*2\s+DEPOSIT\s+500\s+1,500/m)
    assert.include(ledger.stdout, "more: --cursor 3")
  })

  it("overview, accounts by prefix and transactions", async () => {
    const overview = await cli(["overview"])
    assert.strictEqual(overview.code, 0)
    assert.match(overview.stdout, /^store\s+up \(/m)
    // The archive is on (HISTORY_ARCHIVE=on): the service archives into its private PostgreSQL.
    assert.match(overview.stdout, /^archive\s+(ACTIVE|LAGGING): /m)
    assert.match(overview.stdout, /^zero sum\s+true$/m)
    const accounts = await cli(["accounts", "--prefix", "cli-p", "--limit", "2"])
    assert.deepStrictEqual(accounts.stdout.split("\n").slice(2, 4).map((l) => l.split(/\s+/)[0]), ["cli-p1", "cli-p2"])
    assert.match(accounts.stdout, /^more: --cursor \S+$/m)
    const transactions = await json(["transactions", "cli-p3", "--limit", "1"])
    assert.lengthOf(transactions.items, 1)
    assert.containSubset(transactions.items[0], { type: "CASH_OUT", direction: "CREDIT" })
  })

  it("a refused withdrawal exits 1 with the API's code; bad usage exits 2", async () => {
    const refused = await cli(["withdraw", "cli-p3", "99999999"])
    assert.strictEqual(refused.code, 1)
    assert.include(refused.stderr, "422 INSUFFICIENT_BALANCE")
    const badAmount = await cli(["deposit", "cli-p3", "1.5"])
    assert.deepStrictEqual([badAmount.code, badAmount.stderr.includes("amount must be a whole number")], [2, true])
    // A whole number above the limit is told the limit, not that it is no whole number.
    const tooBig = await cli(["deposit", "cli-p3", "9007199254740992"])
    assert.strictEqual(tooBig.code, 2)
    assert.include(tooBig.stderr, `amount must be at most 9007199254740991 chips, not "9007199254740992"`)
    const unknown = await cli(["frobnicate"])
    assert.strictEqual(unknown.code, 2)
  })

  it("verify shows a progress bar and the report", async () => {
    const r = await cli(["verify"])
    assert.strictEqual(r.code, 0)
    assert.match(r.stderr, /\[#{30}\] 100%\s+\d+\/\d+ accounts, \d+ entries, 0 findings/)
    assert.match(r.stdout, /^result\s+OK$/m)
    assert.match(r.stdout, /^sum of balances\s+0$/m)
  })

  it("supply and the economy reports agree with the game", async () => {
    const supply = await json(["supply"])
    assert.containSubset(supply, { raked: game.raked, zeroSum: true })
    const flows = await json(["economy", "flows"])
    assert.strictEqual(flows.raked, game.raked)
    assert.deepStrictEqual(flows.byType.CONTRIBUTION, { chips: 3 * 3 * 20, transfers: 9 })
    const series = await json(["economy", "supply", "--bucket", "hour"])
    assert.containSubset(series.points.at(-1), { supply: supply.minted - supply.burned, circulation: supply.circulation })
    const rake = await cli(["economy", "rake"])
    assert.match(rake.stdout, new RegExp(`^${game.tableId}\\s+${game.raked}\\s+3\\s+180$`, "m"))
    const movers = await json(["economy", "movers", "--limit", "3"])
    assert.deepStrictEqual(movers.items.map((m: { accountId: string }) => m.accountId).sort(), [...game.players].sort())
    const reservations = await cli(["economy", "reservations"])
    assert.match(reservations.stdout, /^committed\s+3$/m)
  })

  it("dead letters: listed, retried with the original key", async () => {
    assert.include((await cli(["dead-letters"])).stdout, "0 open")
    const id = "3b0d8f9e-1c2a-4d5e-8f70-aa11bb22cc33"
    await appendDeadLetter(deadLetterPath(f.service.dataDir), {
      id, enqueuedAt: Date.now(), deadLetteredAt: Date.now(),
      command: { op: "Deposit", accountId: "cli-p3", amount: 40, source: "PROMO", idempotencyKey: "cli-dead-deposit" },
      error: "ACCOUNT_NOT_FOUND", message: "account cli-p3 does not exist"
    })
    const list = await cli(["dead-letters", "list"])
    assert.match(list.stdout, new RegExp(`^${id}\\s+Deposit\\s+cli-p3\\s+40\\s+ACCOUNT_NOT_FOUND\\s+OPEN`, "m"))
    const retried = await json(["dead-letters", "retry", id])
    assert.containSubset(retried, { retry: { outcome: "APPLIED" }, deadLetter: { status: "RESOLVED" } })
    const again = await cli(["dead-letters", "retry", id])
    assert.deepStrictEqual([again.code, again.stderr.includes("409 DEAD_LETTER_RESOLVED")], [1, true])
  })

  it("archive status, and the key read from DATA_DIR/admin-api-key", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "cli-key-"))
    writeFileSync(join(dataDir, "admin-api-key"), `${ADMIN_KEY}\n`)
    const r = await cliWith(nodeBinary(), "src/cli/main.ts")(["archive"], { BALANCE_API_URL: f.apiUrl, DATA_DIR: dataDir })
    assert.strictEqual(r.code, 0)
    assert.match(r.stdout, /^state\s+(ACTIVE|LAGGING)$/m)
    assert.match(r.stdout, /^database\s+embedded$/m)
    const noKey = await cliWith(nodeBinary(), "src/cli/main.ts")(["archive"], { BALANCE_API_URL: f.apiUrl, DATA_DIR: join(dataDir, "missing") })
    assert.deepStrictEqual([noKey.code, noKey.stderr.includes("no admin key: set ADMIN_API_KEY")], [2, true])
    const wrongKey = await cli(["archive"], { ADMIN_API_KEY: "not-the-key" })
    assert.deepStrictEqual([wrongKey.code, wrongKey.stderr.includes("401 INVALID_ADMIN_KEY")], [1, true])
    const down = await cli(["archive"], { BALANCE_API_URL: "http://127.0.0.1:9/api" })
    assert.deepStrictEqual([down.code, down.stderr.includes("cannot reach http://127.0.0.1:9/api")], [1, true])
  })

  it("a service that accepts and never answers: the request gives up after --timeout, exit 1, saying so; a bad --url or option is bad usage (exit 2)", async () => {
    const silent = createServer(() => {})
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve))
    try {
      const port = (silent.address() as AddressInfo).port
      const hung = await cli(["overview", "--timeout", "0.5"], { BALANCE_API_URL: `http://127.0.0.1:${port}/api` })
      assert.strictEqual(hung.code, 1)
      assert.include(hung.stderr, `balance-admin: no answer from http://127.0.0.1:${port}/api within 0.5 s`)
      // A write: its outcome is unknown, and the key to run it again safely is named.
      const deposit = await cli(["deposit", "cli-p1", "5", "--key", "cli-timeout-1", "--timeout", "0.5"], { BALANCE_API_URL: `http://127.0.0.1:${port}/api` })
      assert.strictEqual(deposit.code, 1)
      assert.include(deposit.stderr, "it may have been applied: run it again with --key cli-timeout-1 (the same key moves nothing twice)")
    } finally {
      silent.close()
    }
    const badUrl = await cli(["overview", "--url", "not-a-url"])
    assert.deepStrictEqual([badUrl.code, badUrl.stderr.trim()], [2, `balance-admin: --url / BALANCE_API_URL must be an http(s) URL such as http://127.0.0.1:3002/api, not "not-a-url"`])
    for (const value of ["soon", "0", "3000000"]) {
      const badTimeout = await cli(["overview", "--timeout", value])
      assert.deepStrictEqual([badTimeout.code, badTimeout.stderr.trim()], [2, `balance-admin: --timeout must be a number of seconds above 0 and at most 2147483, not "${value}"`])
    }
    const unknown = await cli(["overview", "--frobnicate"])
    assert.strictEqual(unknown.code, 2)
    assert.match(unknown.stderr, /^balance-admin: Unknown option '--frobnicate'/)
  })

  it("the bin script runs the compiled CLI on the system's Node (not only the pinned 24)", async () => {
    const systemNode = ["/usr/bin/node", "/usr/local/bin/node"].find(existsSync) ?? nodeBinary()
    const out = mkdtempSync(join(tmpdir(), "cli-build-"))
    const tsc = spawnSync(nodeBinary(), [join(ROOT, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.build.json", "--outDir", join(out, "dist")], { cwd: ROOT, encoding: "utf8" })
    assert.strictEqual(tsc.stdout + tsc.stderr, "")
    mkdirSync(join(out, "bin"))
    copyFileSync(join(ROOT, "bin/balance-admin.js"), join(out, "bin/balance-admin.js"))
    writeFileSync(join(out, "package.json"), JSON.stringify({ type: "module" }))
    const r = await cliWith(systemNode, join(out, "bin/balance-admin.js"))(["balance", "cli-p1", "--json"], env)
    assert.strictEqual(r.stderr, "")
    assert.strictEqual(r.code, 0)
    assert.containSubset(JSON.parse(r.stdout), { accountId: "cli-p1", currency: "CHIPS" })
  })
})

import { spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { eventually } from "../support/eventually.ts"
import { npmRun } from "../support/npmRun.ts"
import { type MainProcess, ROOT, spawnMain } from "./support/mainProcess.ts"

/** `npm run -s grpc -- <args>` against the service, with `env` (GRPC_PORT and DATA_DIR as an operator would set them). */
const grpcCli = (args: ReadonlyArray<string>, env: Readonly<Record<string, string>>) => npmRun("grpc", args, env)

describe("npm run grpc, against a started service", () => {
  let main: MainProcess
  let env: Record<string, string>
  const emptyDir = mkdtempSync(join(tmpdir(), "balance-cli-nokey-"))
  beforeAll(async () => {
    // No ADMIN_API_KEY: the service generates one into DATA_DIR, where the client finds it.
    main = await spawnMain()
    env = { GRPC_PORT: String(main.ports.grpc), DATA_DIR: main.dataDir }
    await eventually("ready", async () => {
      const r = await fetch(`http://127.0.0.1:${main.ports.http}/api/ready`).catch(() => undefined)
      return r?.status === 200 ? true : undefined
    }, { timeoutMs: 60_000 })
  }, 90_000)
  afterAll(async () => {
    await main.stop()
    main.cleanup()
    rmSync(emptyDir, { recursive: true, force: true })
  })

  it("answers in camelCase JSON as grpcurl prints it; Deposit works with the generated key file; camelCase input too", async () => {
    const ensured = await grpcCli(["EnsureAccount", '{"account_id":"cli-a"}'], env)
    assert.strictEqual(ensured.stderr, "")
    assert.deepStrictEqual(JSON.parse(ensured.stdout), { accountId: "cli-a", created: true })

    const deposited = await grpcCli(["Deposit", '{"account_id":"cli-a","amount":"250","idempotency_key":"cli-d1","source":"PROMO"}'], env)
    assert.strictEqual(deposited.code, 0)
    assert.containSubset(JSON.parse(deposited.stdout), { ok: true, balance: "250", availableBalance: "250" })
    assert.match(JSON.parse(deposited.stdout).transactionId, /\S/)

    const balance = await grpcCli(["GetBalance", '{"accountId":"cli-a"}'], env)
    assert.containSubset(JSON.parse(balance.stdout), { accountId: "cli-a", balance: "250", availableBalance: "250", currency: "CHIPS" })

    // A refusal in-band: ok=false is proto3's default, so it is left out, as in the README's table.
    const refused = await grpcCli(["ReserveForBuyIn", '{"account_id":"cli-a","table_id":"t1","amount":"0","idempotency_key":"k"}'], env)
    const body = JSON.parse(refused.stdout)
    assert.strictEqual(body.error, "INVALID_AMOUNT")
    assert.include(body.errorMessage, "amount")
    assert.isUndefined(body.ok)
  }, 90_000)

  it("without the admin key, Deposit is refused (UNAUTHENTICATED, exit 1) and nothing moves", async () => {
    const refused = await grpcCli(["Deposit", '{"account_id":"cli-a","amount":"5","idempotency_key":"cli-d2","source":"PROMO"}'], {
      ...env,
      DATA_DIR: emptyDir
    })
    assert.strictEqual(refused.code, 1)
    assert.strictEqual(refused.stdout, "")
    assert.include(refused.stderr, "UNAUTHENTICATED: Deposit creates or destroys chips")
    assert.include(refused.stderr, "x-admin-key")
    assert.strictEqual(JSON.parse((await grpcCli(["GetBalance", '{"account_id":"cli-a"}'], env)).stdout).balance, "250")
  }, 60_000)

  it("malformed JSON, an unknown method or field, no arguments: a clear message and exit 2, nothing sent", async () => {
    const malformed = await grpcCli(["GetBalance", "{account_id:alice}"], env)
    assert.strictEqual(malformed.code, 2)
    assert.include(malformed.stderr, "the request is not valid JSON")
    const unknown = await grpcCli(["GetBalanse", "{}"], env)
    assert.strictEqual(unknown.code, 2)
    assert.include(unknown.stderr, "unknown method GetBalanse; the methods are GetBalance,")
    const field = await grpcCli(["GetBalance", '{"acount_id":"x"}'], env)
    assert.strictEqual(field.code, 2)
    assert.include(field.stderr, "GetBalanceRequest has no field acount_id (fields: account_id)")
    const none = await grpcCli([], env)
    assert.strictEqual(none.code, 2)
    assert.include(none.stderr, "usage: npm run grpc -- <Method> '<json request>'")
  }, 60_000)

  it("WatchAccount prints each change as grpcurl would: no protobufjs oneof markers such as \"_reason\"", async () => {
    await grpcCli(["EnsureAccount", '{"account_id":"cli-w"}'], env)
    await grpcCli(["Deposit", '{"account_id":"cli-w","amount":"9","idempotency_key":"cli-w-1","source":"PROMO"}'], env)
    const child = spawn("npm", ["run", "-s", "grpc", "--", "WatchAccount", '{"account_id":"cli-w","after_seq":"0"}'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env },
      stdio: ["ignore", "pipe", "pipe"]
    })
    const line = await new Promise<string>((resolve) => {
      let out = ""
      child.stdout!.on("data", (c: Buffer) => {
        out += c.toString()
        if (out.includes("\n")) resolve(out.split("\n")[0]!)
      })
    })
    child.kill("SIGINT")
    const event = JSON.parse(line)
    assert.containSubset(event, { accountId: "cli-w", seq: "1", type: "DEPOSIT", amount: "9", balanceAfter: "9" })
    assert.deepStrictEqual(event.metadata, { reason: "PROMO" })
  }, 60_000)

  it("a value its field's type cannot hold is refused naming the field (exit 2), never converted and sent", async () => {
    await grpcCli(["EnsureAccount", '{"account_id":"cli-t"}'], env)
    const deposit = (amount: string) =>
      grpcCli(["Deposit", `{"account_id":"cli-t","amount":${amount},"idempotency_key":"cli-t-${amount.length}${amount.replace(/\W/g, "")}","source":"PROMO"}`], env)
    // protobufjs would have sent 25, 1, 5, 5 and failed on "" with INTERNAL.
    for (const amount of ['"25.5"', '"1e3"', '" 5"', '"+5"', '""', "25.5", "true", '"9223372036854775808"']) {
      const refused = await deposit(amount)
      assert.deepStrictEqual([amount, refused.code, refused.stdout], [amount, 2, ""])
      assert.include(refused.stderr, `amount must be a whole number as a string, e.g. "250"`)
    }
    const seat = await grpcCli(["GetPot", '{"table_id":"t","hand_id":"h","folded_seats":[1.5]}'], env)
    assert.deepStrictEqual([seat.code, seat.stderr.includes("folded_seats[0] must be a whole number, e.g. 1")], [2, true])
    const id = await grpcCli(["GetBalance", '{"account_id":42}'], env)
    assert.deepStrictEqual([id.code, id.stderr.includes("account_id must be a JSON string, not 42")], [2, true])
    assert.isUndefined(JSON.parse((await grpcCli(["GetBalance", '{"account_id":"cli-t"}'], env)).stdout).balance)
    // What the proto3 JSON mapping allows still works: an int64 as a string or as a safe JSON number.
    const ok = await deposit("7")
    assert.containSubset(JSON.parse(ok.stdout), { ok: true, balance: "7" })
  }, 90_000)
})

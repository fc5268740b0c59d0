import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as grpc from "@grpc/grpc-js"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer, ManagedRuntime, References } from "effect"
import { HttpServer } from "effect/http"
import { GrpcServerAddress, grpcServerLayerWith } from "../../src/api/grpc/GrpcServer.ts"
import { AuthSettings } from "../../src/api/http/auth/AuthSettings.ts"
import * as BalanceHttpServer from "../../src/api/http/HttpServer.ts"
import { CommandExecutor } from "../../src/degradation/CommandExecutor.ts"
import { CreditQueue } from "../../src/degradation/CreditQueue.ts"
import { Ledger } from "../../src/ledger/Ledger.ts"
import { loadClientPackage, type Message } from "../grpc/support/balanceClient.ts"
import * as AdminServices from "../../src/app/AdminServices.ts"
import { testServerSettings } from "../grpc/support/grpcTestServer.ts"
import { ledgerCoreOn } from "../support/ledgerLayers.ts"
import { makeSwitchableStore } from "../support/switchableStore.ts"

const ADMIN_KEY = "queued-credits-admin-key"
const store = makeSwitchableStore()
const dataDir = mkdtempSync(join(tmpdir(), "queued-apis-"))
const runtime = ManagedRuntime.make(
  Layer.mergeAll(
    grpcServerLayerWith(testServerSettings()),
    BalanceHttpServer.layerWith({ port: 0, host: "127.0.0.1", maxBodyBytes: 65_536, accessLog: false }).pipe(
      Layer.provide(AuthSettings.layerWith({ adminApiKey: ADMIN_KEY })),
      Layer.provide(AdminServices.layerAt(dataDir))
    )
  ).pipe(
    Layer.provideMerge(CommandExecutor.layer),
    Layer.provideMerge(CreditQueue.layer),
    Layer.provideMerge(ledgerCoreOn(store.layer)),
    Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({ DATA_DIR: dataDir }))),
    Layer.provide(Layer.succeed(References.MinimumLogLevel, "Error"))
  )
)

let client: Message
let baseUrl = ""
const call = (method: string, request: Message) =>
  new Promise<Message>((resolve, reject) =>
    client[method](request, { deadline: Date.now() + 10_000 }, (e: grpc.ServiceError | null, r: Message) => (e ? reject(e) : resolve(r)))
  )

beforeAll(async () => {
  const { port } = await runtime.runPromise(GrpcServerAddress)
  const pkg = loadClientPackage()
  client = new pkg.balance.BalanceService(`127.0.0.1:${port}`, grpc.credentials.createInsecure())
  const http = await runtime.runPromise(HttpServer.HttpServer)
  if (http.address._tag !== "InetAddressV4") throw new Error("expected IPv4")
  baseUrl = `http://127.0.0.1:${http.address.port}`
})
afterAll(async () => {
  client.close()
  await runtime.dispose()
  rmSync(dataDir, { recursive: true, force: true })
})

describe("credits while the store is down, over the real APIs", () => {
  it("gRPC: a cash-out is queued (ok, queued), a reserve fails UNAVAILABLE, and the queue applies the cash-out later", async () => {
    await runtime.runPromise(Effect.gen(function*() {
      const ledger = yield* Ledger
      yield* ledger.execute({ op: "EnsureAccount", accountId: "g1", initialBalance: 100 })
      const r = yield* ledger.execute({ op: "Reserve", accountId: "g1", tableId: "t", amount: 100, timeoutMs: 0, idempotencyKey: "b" })
      yield* ledger.execute({ op: "Commit", reservationId: r.result.reservationId })
    }))
    store.down()
    const cashOut = await call("ProcessCashOut", { account_id: "g1", table_id: "t", seat_id: 1, amount: "60", idempotency_key: "co-1" })
    assert.isTrue(cashOut.ok)
    assert.isTrue(cashOut.queued)
    assert.isNotEmpty(cashOut.queue_id)
    const reserve = await call("ReserveForBuyIn", { account_id: "g1", table_id: "u", amount: "1", idempotency_key: "r-2" }).then(
      () => "answered",
      (e: grpc.ServiceError) => e.code
    )
    assert.strictEqual(reserve, grpc.status.UNAVAILABLE)
    const stale = await call("GetBalance", { account_id: "g1" })
    assert.isTrue(stale.stale)
    store.up()
    const drained = await runtime.runPromise(CreditQueue.use((q) => q.drainOnce()))
    assert.strictEqual(drained.replayed, 1)
    const balance = await call("GetBalance", { account_id: "g1" })
    assert.strictEqual(balance.balance, "60")
    assert.isFalse(balance.stale)
    const replay = await call("ProcessCashOut", { account_id: "g1", table_id: "t", seat_id: 1, amount: "60", idempotency_key: "co-1" })
    assert.isTrue(replay.ok)
    assert.isFalse(replay.queued)
    assert.strictEqual(replay.new_balance, "60")
  })

  it("HTTP: a deposit is accepted with 202 and a queue id, a withdrawal is 503 with Retry-After", async () => {
    await runtime.runPromise(Ledger.use((l) => l.execute({ op: "EnsureAccount", accountId: "h1", initialBalance: 10 })))
    store.down()
    const headers = { "content-type": "application/json", "x-admin-key": ADMIN_KEY }
    const deposit = await fetch(`${baseUrl}/api/accounts/h1/deposit`, {
      method: "POST",
      headers: { ...headers, "idempotency-key": "hd-1" },
      body: JSON.stringify({ amount: 5, source: "BONUS" })
    })
    assert.strictEqual(deposit.status, 202)
    const body = (await deposit.json()) as { queued: boolean; queueId: string }
    assert.isTrue(body.queued)
    const withdraw = await fetch(`${baseUrl}/api/accounts/h1/withdraw`, {
      method: "POST",
      headers: { ...headers, "idempotency-key": "hw-1" },
      body: JSON.stringify({ amount: 5 })
    })
    assert.strictEqual(withdraw.status, 503)
    assert.isNotNull(withdraw.headers.get("retry-after"))
    store.up()
    await runtime.runPromise(CreditQueue.use((q) => q.drainOnce()))
    const balance = await fetch(`${baseUrl}/api/accounts/h1/balance`, { headers })
    assert.strictEqual(((await balance.json()) as { balance: number }).balance, 15)
  })
})

import { Effect, Layer } from "effect"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { MemoryStore } from "../../src/store/memory/MemoryStore.ts"
import { Store } from "../../src/store/Store.ts"
import { makeSwitchableStore } from "../support/switchableStore.ts"
import { clientFor } from "./support/client.ts"
import { execute, uniqueId } from "./support/seed.ts"
import { startTestServer, type TestServer } from "./support/testServer.ts"
import { expectErrorShape } from "./suites/errorResponses.ts"

describe("store unavailable", () => {
  const switchable = makeSwitchableStore()
  let server: TestServer
  let known = ""
  beforeAll(async () => {
    server = await startTestServer(switchable.layer)
    known = uniqueId("known")
    await execute(server, { op: "EnsureAccount", accountId: known, initialBalance: 70 })
  })
  afterAll(async () => {
    switchable.up()
    await server.close()
  })

  it("answers 503 STORE_UNAVAILABLE with Retry-After, serves cached balances marked stale, and recovers", async () => {
    const admin = clientFor(server.baseUrl).admin
    assert.strictEqual((await admin.get(`/api/accounts/${known}/balance`)).body.stale, false)
    switchable.down()

    const ready = await admin.get("/api/ready")
    expectErrorShape(ready, 503, "STORE_UNAVAILABLE")
    assert.strictEqual(ready.headers.get("retry-after"), "1")

    const cached = await admin.get(`/api/accounts/${known}/balance`)
    assert.deepStrictEqual([cached.status, cached.body.balance, cached.body.stale], [200, 70, true])

    for (const reply of [
      await admin.get(`/api/accounts/${uniqueId("unseen")}/balance`),
      await admin.get(`/api/accounts/${known}/transactions`),
      await admin.get("/api/admin/supply"),
      await admin.post(`/api/accounts/${known}/withdraw`, { body: { amount: 1 }, headers: { "idempotency-key": uniqueId("w") } })
    ]) {
      expectErrorShape(reply, 503, "STORE_UNAVAILABLE")
      assert.strictEqual(reply.headers.get("retry-after"), "1")
    }

    switchable.up()
    assert.strictEqual((await admin.get("/api/ready")).status, 200)
    assert.containSubset((await admin.get(`/api/accounts/${known}/balance`)).body, { balance: 70, stale: false })
  })
})

describe("ledger contention", () => {
  let contend = false
  const inner = MemoryStore.make()
  // Every apply loses the race while `contend` is on: the ledger re-plans until its budget is spent.
  const contendedStore = Layer.succeed(Store, Store.of({
    ...inner,
    apply: (request) =>
      contend
        ? Effect.map(inner.load(request.plan.expected.map((e) => e.key)), (snapshot) => ({ _tag: "Conflict" as const, current: snapshot.objects }))
        : inner.apply(request)
  }))
  let server: TestServer
  beforeAll(async () => {
    server = await startTestServer(contendedStore, { ledgerSettings: { conflictRetries: 3 } })
  })
  afterAll(() => server.close())

  it("is 409 LEDGER_CONTENTION when the re-plan budget runs out, and nothing was written", async () => {
    const id = uniqueId("busy")
    await execute(server, { op: "EnsureAccount", accountId: id, initialBalance: 10 })
    contend = true
    const admin = clientFor(server.baseUrl).admin
    const reply = await admin.post(`/api/accounts/${id}/deposit`, { body: { amount: 5, source: "ADMIN" }, headers: { "idempotency-key": uniqueId("k") } })
    contend = false
    expectErrorShape(reply, 409, "LEDGER_CONTENTION")
    assert.strictEqual((await admin.get(`/api/accounts/${id}/balance`)).body.balance, 10)
  })
})

describe("unexpected failures", () => {
  const inner = MemoryStore.make()
  // A bug in a lower layer: the store throws instead of failing with a typed error.
  const brokenStore = Layer.succeed(Store, Store.of({ ...inner, stats: () => Effect.die(new Error("stats exploded at /src/x.ts:1:1")) }))
  let server: TestServer
  beforeAll(async () => {
    server = await startTestServer(brokenStore)
  })
  afterAll(() => server.close())

  it("a defect is 500 INTERNAL, with neither its message nor a stack trace in the response", async () => {
    const reply = await clientFor(server.baseUrl).admin.get("/api/admin/supply")
    expectErrorShape(reply, 500, "INTERNAL")
    assert.notInclude(reply.text, "exploded")
  })
})

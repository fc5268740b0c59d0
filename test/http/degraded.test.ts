import { assert, layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { MemoryStore } from "../../src/store/memory/MemoryStore.ts"
import { Store } from "../../src/store/Store.ts"
import { makeSwitchableStore } from "../support/switchableStore.ts"
import { admin } from "./support/client.ts"
import { createAccount, uniqueId } from "./support/seed.ts"
import { TestHttpServer } from "./support/testServer.ts"
import { expectErrorShape } from "./suites/errorResponses.ts"

// Each block: the real server on a free port over a store that misbehaves on cue; live services
// (real sockets, real time).
const switchable = makeSwitchableStore()
layer(TestHttpServer.layer(switchable.layer), { excludeTestServices: true })("store unavailable", (it) => {
  it.effect("answers 503 STORE_UNAVAILABLE with Retry-After, serves cached balances marked stale, and recovers", () => Effect.gen(function*() {
    const known = yield* createAccount("known", 70)
    // Whatever happens below, the server is closed over a store that answers.
    yield* Effect.addFinalizer(() => Effect.sync(switchable.up))
    assert.strictEqual((yield* admin.get(`/api/accounts/${known}/balance`)).body.stale, false)
    switchable.down()

    const ready = yield* admin.get("/api/ready")
    expectErrorShape(ready, 503, "STORE_UNAVAILABLE")
    assert.strictEqual(ready.headers.get("retry-after"), "1")

    const cached = yield* admin.get(`/api/accounts/${known}/balance`)
    assert.deepStrictEqual([cached.status, cached.body.balance, cached.body.stale], [200, 70, true])

    for (const reply of [
      yield* admin.get(`/api/accounts/${uniqueId("unseen")}/balance`),
      yield* admin.get(`/api/accounts/${known}/transactions`),
      yield* admin.get("/api/admin/supply"),
      yield* admin.post(`/api/accounts/${known}/withdraw`, { body: { amount: 1 }, headers: { "idempotency-key": uniqueId("w") } })
    ]) {
      expectErrorShape(reply, 503, "STORE_UNAVAILABLE")
      assert.strictEqual(reply.headers.get("retry-after"), "1")
    }

    switchable.up()
    assert.strictEqual((yield* admin.get("/api/ready")).status, 200)
    assert.containSubset((yield* admin.get(`/api/accounts/${known}/balance`)).body, { balance: 70, stale: false })
  }))
})

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
layer(TestHttpServer.layer(contendedStore, { ledgerSettings: { conflictRetries: 3 } }), { excludeTestServices: true })("ledger contention", (it) => {
  it.effect("is 409 LEDGER_CONTENTION when the re-plan budget runs out, and nothing was written", () => Effect.gen(function*() {
    const id = yield* createAccount("busy", 10)
    contend = true
    const reply = yield* admin.post(`/api/accounts/${id}/deposit`, { body: { amount: 5, source: "ADMIN" }, headers: { "idempotency-key": uniqueId("k") } })
    contend = false
    expectErrorShape(reply, 409, "LEDGER_CONTENTION")
    assert.strictEqual((yield* admin.get(`/api/accounts/${id}/balance`)).body.balance, 10)
  }))
})

const broken = MemoryStore.make()
// A bug in a lower layer: the store throws instead of failing with a typed error.
const brokenStore = Layer.succeed(Store, Store.of({ ...broken, stats: () => Effect.die(new Error("stats exploded at /src/x.ts:1:1")) }))
layer(TestHttpServer.layer(brokenStore), { excludeTestServices: true })("unexpected failures", (it) => {
  it.effect("a defect is 500 INTERNAL, with neither its message nor a stack trace in the response", () => Effect.gen(function*() {
    const reply = yield* admin.get("/api/admin/supply")
    expectErrorShape(reply, 500, "INTERNAL")
    assert.notInclude(reply.text, "exploded")
  }))
})

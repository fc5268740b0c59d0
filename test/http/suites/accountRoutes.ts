import { assert, describe } from "@effect/vitest"
import { Effect } from "effect"
import { admin, anonymous, asPlayer } from "../support/client.ts"
import type { HttpApiIt } from "../support/httpApiSuite.ts"
import { createAccount, executeCommand, uniqueId } from "../support/seed.ts"

export const accountRoutes = (it: HttpApiIt) =>
  describe("account routes", () => {
    it.effect("GET /api/health and /api/ready answer without credentials", () => Effect.gen(function*() {
      const health = yield* anonymous.get("/api/health")
      const ready = yield* anonymous.get("/api/ready")
      assert.deepStrictEqual([health.status, health.body], [200, { status: "ok" }])
      assert.deepStrictEqual([ready.status, ready.body], [200, { status: "ready" }])
    }))

    it.effect("POST /api/accounts/{id} creates the wallet once: 201, then 200 with nothing changed", () => Effect.gen(function*() {
      const id = uniqueId("create")
      const first = yield* admin.post(`/api/accounts/${id}`, { body: { initialBalance: 250 } })
      const second = yield* admin.post(`/api/accounts/${id}`, { body: { initialBalance: 999 } })
      assert.deepStrictEqual([first.status, first.body], [201, { accountId: id, balance: 250, created: true }])
      assert.deepStrictEqual([second.status, second.body], [200, { accountId: id, balance: 250, created: false }])
    }))

    it.effect("POST /api/accounts/{id} without a body creates an empty wallet", () => Effect.gen(function*() {
      const id = uniqueId("nobody")
      const created = yield* admin.post(`/api/accounts/${id}`)
      assert.deepStrictEqual([created.status, created.body], [201, { accountId: id, balance: 0, created: true }])
    }))

    it.effect("GET balance shows balance, held and available, to the player and to an admin", () => Effect.gen(function*() {
      const id = yield* createAccount("bal", 100)
      yield* executeCommand({ op: "Reserve", accountId: id, tableId: "t-bal", amount: 30, timeoutMs: 600_000, idempotencyKey: uniqueId("r") })
      const byPlayer = yield* (yield* asPlayer(id)).get(`/api/accounts/${id}/balance`)
      const asAdmin = yield* admin.get(`/api/accounts/${id}/balance`)
      assert.strictEqual(byPlayer.status, 200)
      assert.containSubset(byPlayer.body, {
        accountId: id, balance: 100, held: 30, availableBalance: 70, currency: "CHIPS", stale: false
      })
      assert.isAbove(byPlayer.body.version, 0)
      assert.deepStrictEqual(asAdmin.body, byPlayer.body)
    }))

    it.effect("deposit mints into the wallet and answers the movement", () => Effect.gen(function*() {
      const id = yield* createAccount("dep", 10)
      const reply = yield* admin.post(`/api/accounts/${id}/deposit`, {
        body: { amount: 40, source: "PURCHASE" },
        headers: { "idempotency-key": uniqueId("k") }
      })
      assert.strictEqual(reply.status, 200)
      assert.isNull(reply.headers.get("idempotent-replayed"))
      assert.containSubset(reply.body, { accountId: id, amount: 40, balance: 50, availableBalance: 50 })
      assert.strictEqual(typeof reply.body.transactionId, "string")
    }))

    it.effect("a replayed deposit returns the identical body with Idempotent-Replayed: true and moves nothing", () => Effect.gen(function*() {
      const id = yield* createAccount("replay")
      const key = uniqueId("k")
      const request = { body: { amount: 75, source: "BONUS" }, headers: { "idempotency-key": key } }
      const first = yield* admin.post(`/api/accounts/${id}/deposit`, request)
      const replay = yield* admin.post(`/api/accounts/${id}/deposit`, request)
      const balance = yield* admin.get(`/api/accounts/${id}/balance`)
      assert.strictEqual(first.status, 200)
      assert.strictEqual(replay.status, 200)
      assert.strictEqual(replay.text, first.text)
      assert.strictEqual(replay.headers.get("idempotent-replayed"), "true")
      assert.strictEqual(balance.body.balance, 75)
    }))

    it.effect("the same Idempotency-Key with another request is 409 IDEMPOTENCY_KEY_REUSED", () => Effect.gen(function*() {
      const id = yield* createAccount("reuse")
      const key = uniqueId("k")
      yield* admin.post(`/api/accounts/${id}/deposit`, { body: { amount: 5, source: "ADMIN" }, headers: { "idempotency-key": key } })
      const reused = yield* admin.post(`/api/accounts/${id}/deposit`, { body: { amount: 6, source: "ADMIN" }, headers: { "idempotency-key": key } })
      assert.strictEqual(reused.status, 409)
      assert.strictEqual(reused.body.error, "IDEMPOTENCY_KEY_REUSED")
      assert.strictEqual((yield* admin.get(`/api/accounts/${id}/balance`)).body.balance, 5)
    }))

    it.effect("withdraw burns from the available balance; a replay says so", () => Effect.gen(function*() {
      const id = yield* createAccount("wd", 100)
      const request = { body: { amount: 60, reason: "cash-out to bank" }, headers: { "idempotency-key": uniqueId("w") } }
      const first = yield* admin.post(`/api/accounts/${id}/withdraw`, request)
      const replay = yield* admin.post(`/api/accounts/${id}/withdraw`, request)
      assert.strictEqual(first.status, 200)
      assert.containSubset(first.body, { accountId: id, amount: 60, balance: 40, availableBalance: 40 })
      assert.strictEqual(replay.text, first.text)
      assert.strictEqual(replay.headers.get("idempotent-replayed"), "true")
    }))

    it.effect("withdrawing more than is available (held chips excluded) is 422 INSUFFICIENT_BALANCE and moves nothing", () => Effect.gen(function*() {
      const id = yield* createAccount("poor", 100)
      yield* executeCommand({ op: "Reserve", accountId: id, tableId: "t-poor", amount: 80, timeoutMs: 600_000, idempotencyKey: uniqueId("r") })
      const refused = yield* admin.post(`/api/accounts/${id}/withdraw`, {
        body: { amount: 50 },
        headers: { "idempotency-key": uniqueId("w") }
      })
      assert.strictEqual(refused.status, 422)
      assert.containSubset(refused.body, { error: "INSUFFICIENT_BALANCE" })
      assert.include(refused.body.message, "20")
      assert.containSubset((yield* admin.get(`/api/accounts/${id}/balance`)).body, { balance: 100, held: 80 })
    }))

    it.effect("transactions: newest first with direction, filtered by type and by time range", () => Effect.gen(function*() {
      const id = yield* createAccount("tx", 100)
      yield* admin.post(`/api/accounts/${id}/deposit`, { body: { amount: 20, source: "BONUS" }, headers: { "idempotency-key": uniqueId("d") } })
      yield* admin.post(`/api/accounts/${id}/withdraw`, { body: { amount: 5 }, headers: { "idempotency-key": uniqueId("w") } })
      const player = (yield* asPlayer(id))
      const all = yield* player.get(`/api/accounts/${id}/transactions`)
      assert.strictEqual(all.status, 200)
      assert.deepStrictEqual(
        all.body.items.map((t: { type: string; direction: string; amount: number }) => [t.type, t.direction, t.amount]),
        [["WITHDRAW", "DEBIT", 5], ["DEPOSIT", "CREDIT", 20], ["GRANT", "CREDIT", 100]]
      )
      assert.isNull(all.body.nextCursor)
      const onlyMoney = yield* player.get(`/api/accounts/${id}/transactions?type=DEPOSIT,WITHDRAW`)
      assert.deepStrictEqual(onlyMoney.body.items.map((t: { type: string }) => t.type), ["WITHDRAW", "DEPOSIT"])
      const future = new Date(Date.now() + 3_600_000).toISOString()
      const past = new Date(Date.now() - 3_600_000).toISOString()
      assert.deepStrictEqual((yield* player.get(`/api/accounts/${id}/transactions?from=${future}`)).body.items, [])
      assert.deepStrictEqual((yield* player.get(`/api/accounts/${id}/transactions?to=${past}`)).body.items, [])
      assert.lengthOf((yield* player.get(`/api/accounts/${id}/transactions?from=${past}&to=${future}`)).body.items, 3)
    }))

    it.effect("ledger: entries by seq, each chained to the previous by its checksum", () => Effect.gen(function*() {
      const id = yield* createAccount("chain", 10)
      for (const amount of [1, 2, 3]) {
        yield* admin.post(`/api/accounts/${id}/deposit`, { body: { amount, source: "ADMIN" }, headers: { "idempotency-key": uniqueId("d") } })
      }
      const page = yield* (yield* asPlayer(id)).get(`/api/accounts/${id}/ledger`)
      assert.strictEqual(page.status, 200)
      const items = page.body.items as Array<{ seq: number; previousChecksum: string; checksum: string; balanceBefore: number; balanceAfter: number }>
      assert.deepStrictEqual(items.map((e) => e.seq), [1, 2, 3, 4])
      assert.strictEqual(items[0]!.previousChecksum, "GENESIS")
      for (let i = 1; i < items.length; i++) {
        assert.strictEqual(items[i]!.previousChecksum, items[i - 1]!.checksum)
        assert.strictEqual(items[i]!.balanceBefore, items[i - 1]!.balanceAfter)
      }
      assert.strictEqual(items[3]!.balanceAfter, 16)
      assert.isNull(page.body.nextCursor)
    }))

    it.effect("reservations: held and recent ones with their status, filterable", () => Effect.gen(function*() {
      const id = yield* createAccount("res", 1000)
      const reserve = (amount: number) =>
        executeCommand({ op: "Reserve", accountId: id, tableId: "t-res", amount, timeoutMs: 600_000, idempotencyKey: uniqueId("r") })
      const committed = yield* reserve(100)
      yield* executeCommand({ op: "Commit", reservationId: committed.reservationId })
      const released = yield* reserve(50)
      yield* executeCommand({ op: "Release", reservationId: released.reservationId, reason: "left the table" })
      const held = yield* reserve(25)
      const player = (yield* asPlayer(id))
      const all = yield* player.get(`/api/accounts/${id}/reservations`)
      assert.strictEqual(all.status, 200)
      assert.strictEqual(all.body.held, 25)
      const byId = new Map(all.body.items.map((r: { reservationId: string; status: string }) => [r.reservationId, r.status]))
      assert.deepStrictEqual(byId, new Map([
        [committed.reservationId, "COMMITTED"],
        [released.reservationId, "RELEASED"],
        [held.reservationId, "HELD"]
      ]))
      const onlyHeld = yield* player.get(`/api/accounts/${id}/reservations?status=HELD`)
      assert.lengthOf(onlyHeld.body.items, 1)
      assert.containSubset(onlyHeld.body.items[0], { reservationId: held.reservationId, amount: 25, tableId: "t-res", status: "HELD" })
    }))
  })

import { assert, describe, it } from "@effect/vitest"
import { playerToken } from "../support/client.ts"
import type { SuiteContext } from "../support/httpApiSuite.ts"
import { execute, newAccount, uniqueId } from "../support/seed.ts"

export const accountRoutes = ({ server, client }: SuiteContext) =>
  describe("account routes", () => {
    it("GET /api/health and /api/ready answer without credentials", async () => {
      const health = await client().anonymous.get("/api/health")
      const ready = await client().anonymous.get("/api/ready")
      assert.deepStrictEqual([health.status, health.body], [200, { status: "ok" }])
      assert.deepStrictEqual([ready.status, ready.body], [200, { status: "ready" }])
    })

    it("POST /api/accounts/{id} creates the wallet once: 201, then 200 with nothing changed", async () => {
      const id = uniqueId("create")
      const first = await client().admin.post(`/api/accounts/${id}`, { body: { initialBalance: 250 } })
      const second = await client().admin.post(`/api/accounts/${id}`, { body: { initialBalance: 999 } })
      assert.deepStrictEqual([first.status, first.body], [201, { accountId: id, balance: 250, created: true }])
      assert.deepStrictEqual([second.status, second.body], [200, { accountId: id, balance: 250, created: false }])
    })

    it("POST /api/accounts/{id} without a body creates an empty wallet", async () => {
      const id = uniqueId("nobody")
      const created = await client().admin.post(`/api/accounts/${id}`)
      assert.deepStrictEqual([created.status, created.body], [201, { accountId: id, balance: 0, created: true }])
    })

    it("GET balance shows balance, held and available, to the player and to an admin", async () => {
      const id = await newAccount(server(), "bal", 100)
      await execute(server(), { op: "Reserve", accountId: id, tableId: "t-bal", amount: 30, timeoutMs: 600_000, idempotencyKey: uniqueId("r") })
      const asPlayer = await client().withToken(await playerToken(id)).get(`/api/accounts/${id}/balance`)
      const asAdmin = await client().admin.get(`/api/accounts/${id}/balance`)
      assert.strictEqual(asPlayer.status, 200)
      assert.containSubset(asPlayer.body, {
        accountId: id, balance: 100, held: 30, availableBalance: 70, currency: "CHIPS", stale: false
      })
      assert.isAbove(asPlayer.body.version, 0)
      assert.deepStrictEqual(asAdmin.body, asPlayer.body)
    })

    it("deposit mints into the wallet and answers the movement", async () => {
      const id = await newAccount(server(), "dep", 10)
      const reply = await client().admin.post(`/api/accounts/${id}/deposit`, {
        body: { amount: 40, source: "PURCHASE" },
        headers: { "idempotency-key": uniqueId("k") }
      })
      assert.strictEqual(reply.status, 200)
      assert.isNull(reply.headers.get("idempotent-replayed"))
      assert.containSubset(reply.body, { accountId: id, amount: 40, balance: 50, availableBalance: 50 })
      assert.strictEqual(typeof reply.body.transactionId, "string")
    })

    it("a replayed deposit returns the identical body with Idempotent-Replayed: true and moves nothing", async () => {
      const id = await newAccount(server(), "replay")
      const key = uniqueId("k")
      const request = { body: { amount: 75, source: "BONUS" }, headers: { "idempotency-key": key } }
      const first = await client().admin.post(`/api/accounts/${id}/deposit`, request)
      const replay = await client().admin.post(`/api/accounts/${id}/deposit`, request)
      const balance = await client().admin.get(`/api/accounts/${id}/balance`)
      assert.strictEqual(first.status, 200)
      assert.strictEqual(replay.status, 200)
      assert.strictEqual(replay.text, first.text)
      assert.strictEqual(replay.headers.get("idempotent-replayed"), "true")
      assert.strictEqual(balance.body.balance, 75)
    })

    it("the same Idempotency-Key with another request is 409 IDEMPOTENCY_KEY_REUSED", async () => {
      const id = await newAccount(server(), "reuse")
      const key = uniqueId("k")
      await client().admin.post(`/api/accounts/${id}/deposit`, { body: { amount: 5, source: "ADMIN" }, headers: { "idempotency-key": key } })
      const reused = await client().admin.post(`/api/accounts/${id}/deposit`, { body: { amount: 6, source: "ADMIN" }, headers: { "idempotency-key": key } })
      assert.strictEqual(reused.status, 409)
      assert.strictEqual(reused.body.error, "IDEMPOTENCY_KEY_REUSED")
      assert.strictEqual((await client().admin.get(`/api/accounts/${id}/balance`)).body.balance, 5)
    })

    it("withdraw burns from the available balance; a replay says so", async () => {
      const id = await newAccount(server(), "wd", 100)
      const request = { body: { amount: 60, reason: "cash-out to bank" }, headers: { "idempotency-key": uniqueId("w") } }
      const first = await client().admin.post(`/api/accounts/${id}/withdraw`, request)
      const replay = await client().admin.post(`/api/accounts/${id}/withdraw`, request)
      assert.strictEqual(first.status, 200)
      assert.containSubset(first.body, { accountId: id, amount: 60, balance: 40, availableBalance: 40 })
      assert.strictEqual(replay.text, first.text)
      assert.strictEqual(replay.headers.get("idempotent-replayed"), "true")
    })

    it("withdrawing more than is available (held chips excluded) is 422 INSUFFICIENT_BALANCE and moves nothing", async () => {
      const id = await newAccount(server(), "poor", 100)
      await execute(server(), { op: "Reserve", accountId: id, tableId: "t-poor", amount: 80, timeoutMs: 600_000, idempotencyKey: uniqueId("r") })
      const refused = await client().admin.post(`/api/accounts/${id}/withdraw`, {
        body: { amount: 50 },
        headers: { "idempotency-key": uniqueId("w") }
      })
      assert.strictEqual(refused.status, 422)
      assert.containSubset(refused.body, { error: "INSUFFICIENT_BALANCE" })
      assert.include(refused.body.message, "20")
      assert.containSubset((await client().admin.get(`/api/accounts/${id}/balance`)).body, { balance: 100, held: 80 })
    })

    it("transactions: newest first with direction, filtered by type and by time range", async () => {
      const id = await newAccount(server(), "tx", 100)
      await client().admin.post(`/api/accounts/${id}/deposit`, { body: { amount: 20, source: "BONUS" }, headers: { "idempotency-key": uniqueId("d") } })
      await client().admin.post(`/api/accounts/${id}/withdraw`, { body: { amount: 5 }, headers: { "idempotency-key": uniqueId("w") } })
      const player = client().withToken(await playerToken(id))
      const all = await player.get(`/api/accounts/${id}/transactions`)
      assert.strictEqual(all.status, 200)
      assert.deepStrictEqual(
        all.body.items.map((t: { type: string; direction: string; amount: number }) => [t.type, t.direction, t.amount]),
        [["WITHDRAW", "DEBIT", 5], ["DEPOSIT", "CREDIT", 20], ["GRANT", "CREDIT", 100]]
      )
      assert.isNull(all.body.nextCursor)
      const onlyMoney = await player.get(`/api/accounts/${id}/transactions?type=DEPOSIT,WITHDRAW`)
      assert.deepStrictEqual(onlyMoney.body.items.map((t: { type: string }) => t.type), ["WITHDRAW", "DEPOSIT"])
      const future = new Date(Date.now() + 3_600_000).toISOString()
      const past = new Date(Date.now() - 3_600_000).toISOString()
      assert.deepStrictEqual((await player.get(`/api/accounts/${id}/transactions?from=${future}`)).body.items, [])
      assert.deepStrictEqual((await player.get(`/api/accounts/${id}/transactions?to=${past}`)).body.items, [])
      assert.lengthOf((await player.get(`/api/accounts/${id}/transactions?from=${past}&to=${future}`)).body.items, 3)
    })

    it("ledger: entries by seq, each chained to the previous by its checksum", async () => {
      const id = await newAccount(server(), "chain", 10)
      for (const amount of [1, 2, 3]) {
        await client().admin.post(`/api/accounts/${id}/deposit`, { body: { amount, source: "ADMIN" }, headers: { "idempotency-key": uniqueId("d") } })
      }
      const page = await client().withToken(await playerToken(id)).get(`/api/accounts/${id}/ledger`)
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
    })

    it("reservations: held and recent ones with their status, filterable", async () => {
      const id = await newAccount(server(), "res", 1000)
      const reserve = (amount: number) =>
        execute(server(), { op: "Reserve", accountId: id, tableId: "t-res", amount, timeoutMs: 600_000, idempotencyKey: uniqueId("r") })
      const committed = await reserve(100)
      await execute(server(), { op: "Commit", reservationId: committed.reservationId })
      const released = await reserve(50)
      await execute(server(), { op: "Release", reservationId: released.reservationId, reason: "left the table" })
      const held = await reserve(25)
      const player = client().withToken(await playerToken(id))
      const all = await player.get(`/api/accounts/${id}/reservations`)
      assert.strictEqual(all.status, 200)
      assert.strictEqual(all.body.held, 25)
      const byId = new Map(all.body.items.map((r: { reservationId: string; status: string }) => [r.reservationId, r.status]))
      assert.deepStrictEqual(byId, new Map([
        [committed.reservationId, "COMMITTED"],
        [released.reservationId, "RELEASED"],
        [held.reservationId, "HELD"]
      ]))
      const onlyHeld = await player.get(`/api/accounts/${id}/reservations?status=HELD`)
      assert.lengthOf(onlyHeld.body.items, 1)
      assert.containSubset(onlyHeld.body.items[0], { reservationId: held.reservationId, amount: 25, tableId: "t-res", status: "HELD" })
    })
  })

import { assert, describe } from "@effect/vitest"
import { Effect } from "effect"
import { admin } from "../support/client.ts"
import type { HttpApiIt } from "../support/httpApiSuite.ts"
import { createAccount, executeCommand, uniqueId } from "../support/seed.ts"

/** Seats three players at a fresh table and records an uneven hand (side pots). */
const seatedHand = Effect.gen(function*() {
  const tableId = uniqueId("table")
  const players = [] as Array<string>
  for (const [seat, buyIn] of [[1, 100], [2, 300], [3, 300]] as const) {
    const accountId = yield* createAccount(`seat${seat}`, 1000)
    const r = yield* executeCommand({ op: "Reserve", accountId, tableId, amount: buyIn, timeoutMs: 600_000, idempotencyKey: uniqueId("r") })
    yield* executeCommand({ op: "Commit", reservationId: r.reservationId })
    players.push(accountId)
  }
  const handId = "h1"
  const contributions = [[1, 100], [2, 300], [3, 250]] as const
  for (const [seatId, amount] of contributions) {
    yield* executeCommand({
      op: "Contribute", tableId, handId, seatId, accountId: players[seatId - 1]!, amount,
      contributionType: "BET", idempotencyKey: uniqueId("c")
    })
  }
  return { tableId, handId, players }
})

export const adminRoutes = (it: HttpApiIt) =>
  describe("admin routes", () => {
    it.effect("GET /api/admin/accounts lists wallets by id prefix, page by page", () => Effect.gen(function*() {
      const prefix = uniqueId("list")
      for (const n of [1, 2, 3]) yield* executeCommand({ op: "EnsureAccount", accountId: `${prefix}-${n}`, initialBalance: n * 10 })
      const first = yield* admin.get(`/api/admin/accounts?prefix=${prefix}&limit=2`)
      assert.strictEqual(first.status, 200)
      assert.deepStrictEqual(first.body.items.map((a: { accountId: string }) => a.accountId), [`${prefix}-1`, `${prefix}-2`])
      assert.containSubset(first.body.items[1], { balance: 20, held: 0, availableBalance: 20 })
      const second = yield* admin.get(`/api/admin/accounts?prefix=${prefix}&limit=2&cursor=${first.body.nextCursor}`)
      assert.deepStrictEqual(second.body.items.map((a: { accountId: string }) => a.accountId), [`${prefix}-3`])
      assert.isNull(second.body.nextCursor)
    }))

    it.effect("GET /api/admin/reservations/{id} shows one reservation; unknown is 404", () => Effect.gen(function*() {
      const id = yield* createAccount("oneres", 100)
      const r = yield* executeCommand({ op: "Reserve", accountId: id, tableId: "t-one", amount: 40, timeoutMs: 600_000, idempotencyKey: uniqueId("r") })
      const found = yield* admin.get(`/api/admin/reservations/${r.reservationId}`)
      const missing = yield* admin.get(`/api/admin/reservations/${uniqueId("nope")}`)
      assert.strictEqual(found.status, 200)
      assert.containSubset(found.body, { reservationId: r.reservationId, accountId: id, tableId: "t-one", amount: 40, status: "HELD" })
      assert.strictEqual(Date.parse(found.body.expiresAt), r.expiresAt)
      assert.deepStrictEqual([missing.status, missing.body.error], [404, "RESERVATION_NOT_FOUND"])
    }))

    it.effect("GET /api/admin/tables/{table}/stacks lists every stack at the table", () => Effect.gen(function*() {
      const { tableId, players } = yield* seatedHand
      const reply = yield* admin.get(`/api/admin/tables/${tableId}/stacks`)
      assert.strictEqual(reply.status, 200)
      const stacks = Object.fromEntries(reply.body.items.map((s: { accountId: string; balance: number }) => [s.accountId, s.balance]))
      assert.deepStrictEqual(stacks, { [players[0]!]: 0, [players[1]!]: 0, [players[2]!]: 50 })
      assert.strictEqual(reply.body.total, 50)
    }))

    it.effect("GET /api/admin/tables/{table}/hands/{hand}/pot shows contributions and main/side pots; unknown is 404", () => Effect.gen(function*() {
      const { tableId, handId, players } = yield* seatedHand
      const reply = yield* admin.get(`/api/admin/tables/${tableId}/hands/${handId}/pot`)
      assert.strictEqual(reply.status, 200)
      assert.containSubset(reply.body, { tableId, handId, status: "ACTIVE", balance: 650 })
      assert.deepStrictEqual(reply.body.contributions, [
        { seatId: 1, accountId: players[0], amount: 100 },
        { seatId: 2, accountId: players[1], amount: 300 },
        { seatId: 3, accountId: players[2], amount: 250 }
      ])
      assert.deepStrictEqual(reply.body.pots, [
        { amount: 300, eligibleSeats: [1, 2, 3] },
        { amount: 300, eligibleSeats: [2, 3] },
        { amount: 50, eligibleSeats: [2] }
      ])
      const folded = yield* admin.get(`/api/admin/tables/${tableId}/hands/${handId}/pot?folded=3`)
      assert.notInclude(folded.body.pots.flatMap((p: { eligibleSeats: Array<number> }) => p.eligibleSeats), 3)
      const outOfRange = yield* admin.get(`/api/admin/tables/${tableId}/hands/${handId}/pot?folded=3,9999`)
      assert.strictEqual(outOfRange.status, 400)
      assert.containSubset(outOfRange.body.details.issues[0], { in: "query", path: "folded" })
      const missing = yield* admin.get(`/api/admin/tables/${tableId}/hands/nope/pot`)
      assert.deepStrictEqual([missing.status, missing.body.error], [404, "POT_NOT_FOUND"])
    }))

    it.effect("GET /api/admin/transfers pages through recent transfers of all accounts, newest first", () => Effect.gen(function*() {
      const a = yield* createAccount("ta", 1)
      const b = yield* createAccount("tb", 2)
      const first = yield* admin.get("/api/admin/transfers?limit=1")
      assert.strictEqual(first.status, 200)
      assert.lengthOf(first.body.items, 1)
      assert.containSubset(first.body.items[0].transfers[0], { type: "GRANT", from: "x:mint", to: `w:${b}`, amount: 2 })
      const second = yield* admin.get(`/api/admin/transfers?limit=1&cursor=${first.body.nextCursor}`)
      assert.containSubset(second.body.items[0].transfers[0], { type: "GRANT", to: `w:${a}`, amount: 1 })
      assert.notStrictEqual(second.body.items[0].eventId, first.body.items[0].eventId)
    }))

    it.effect("POST /api/admin/ledger/verify checks the whole ledger, or one account; an unknown account is 404", () => Effect.gen(function*() {
      const id = yield* createAccount("verify", 5)
      const whole = yield* admin.post("/api/admin/ledger/verify")
      assert.strictEqual(whole.status, 200)
      assert.containSubset(whole.body, { mode: "full", ok: true, totalBalance: 0, findings: [] })
      assert.isAbove(whole.body.accountsChecked, 0)
      const one = yield* admin.post("/api/admin/ledger/verify", { body: { accountId: id } })
      assert.containSubset(one.body, { mode: "account", ok: true, accountsChecked: 1, entriesChecked: 1, totalBalance: null })
      const incremental = yield* admin.post("/api/admin/ledger/verify", { body: { mode: "incremental" } })
      assert.containSubset(incremental.body, { mode: "incremental", ok: true })
      const missing = yield* admin.post("/api/admin/ledger/verify", { body: { accountId: uniqueId("ghost") } })
      assert.deepStrictEqual([missing.status, missing.body.error], [404, "ACCOUNT_NOT_FOUND"])
    }))

    it.effect("GET /api/admin/supply derives minted, burned and circulation from the system accounts", () => Effect.gen(function*() {
      const before = (yield* admin.get("/api/admin/supply")).body
      const id = yield* createAccount("supply", 0)
      yield* admin.post(`/api/accounts/${id}/deposit`, { body: { amount: 1000, source: "PURCHASE" }, headers: { "idempotency-key": uniqueId("d") } })
      yield* admin.post(`/api/accounts/${id}/withdraw`, { body: { amount: 300 }, headers: { "idempotency-key": uniqueId("w") } })
      yield* admin.post("/api/admin/ledger/verify")
      const after = yield* admin.get("/api/admin/supply")
      assert.strictEqual(after.status, 200)
      assert.strictEqual(after.body.minted - before.minted, 1000)
      assert.strictEqual(after.body.burned - before.burned, 300)
      assert.strictEqual(after.body.circulation - before.circulation, 700)
      assert.strictEqual(after.body.system.mint, -after.body.minted)
      assert.strictEqual(after.body.system.mint + after.body.system.burn + after.body.system.rake + after.body.circulation, 0)
      assert.strictEqual(after.body.byType.DEPOSIT - (before.byType.DEPOSIT ?? 0), 1000)
      assert.isTrue(after.body.zeroSum)
      assert.containSubset(after.body.lastVerification, { ok: true, totalBalance: 0 })
    }))
  })

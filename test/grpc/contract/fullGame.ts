import { assert } from "@effect/vitest"
import { Effect } from "effect"
import { LedgerVerifier } from "../../../src/ledger/LedgerVerifier.ts"
import { BalanceClient, type Message, type Stream } from "../support/balanceClient.ts"
import { balanceOf, buyIn, type ContractIt, contribute, ensure, key, stackOf } from "../support/contractIt.ts"
import { call, eventually, ok } from "../support/expectations.ts"

const TABLE = "g-table"
const [P1, P2, P3] = ["g-p1", "g-p2", "g-p3"] as const

const watch = (accountId: string, afterSeq?: string) =>
  Effect.gen(function*() {
    const client = yield* BalanceClient
    const s = yield* client.stream("balance", "WatchAccount", afterSeq === undefined ? { account_id: accountId } : { account_id: accountId, after_seq: afterSeq })
    yield* eventually(`WatchAccount(${accountId}) is live`, Effect.sync(() => s.headers() !== undefined || s.ended() !== undefined))
    assert.isUndefined(s.ended(), `stream ended early: ${JSON.stringify(s.ended())}`)
    return s
  })

const settle = (handId: string, winners: ReadonlyArray<readonly [number, string, number]>) =>
  ok("SettlePot", {
    table_id: TABLE,
    hand_id: handId,
    winners: winners.map(([seat, account, amount]) => ({ seat_id: seat, account_id: account, amount: String(amount) })),
    idempotency_key: key("settle")
  })

const bet = (handId: string, seat: number, account: string, amount: number, type: string) =>
  Effect.tap(contribute(TABLE, handId, seat, account, amount, type), (r) =>
    Effect.sync(() => assert.isTrue(r.ok, `${account} ${type} ${amount}: ${r.error}`)))

const awaitMessages = (s: Stream, count: number) =>
  eventually(`${count} BalanceChange messages`, Effect.sync(() => s.received.length >= count))

const summary = (m: Message) => [m.seq, m.type, m.amount, m.balance_after, m.held_after, m.available_after]

export const fullGame = (it: ContractIt) => {
  it.effect("a full game keeps every chip: buy-ins, side pots, a cancelled hand, a split, cash-outs; WatchAccount sees it in order", () =>
    Effect.gen(function*() {
      yield* ensure(P1, 1000)
      yield* ensure(P2, 600)
      yield* ensure(P3, 300)
      yield* ok("Deposit", { account_id: P3, amount: "200", idempotency_key: key("dep"), source: "PROMO" })
      const issued = 1000 + 600 + 300 + 200

      const live = yield* watch(P1)
      assert.strictEqual(live.headers()!.get("x-watch-after-seq")[0], "1")

      // P1 changes their mind once before sitting down.
      const hesitation = yield* ok("ReserveForBuyIn", { account_id: P1, table_id: TABLE, amount: "100", idempotency_key: key() })
      yield* ok("ReleaseReservation", { reservation_id: hesitation.reservation_id, reason: "changed mind" })
      yield* buyIn(P1, TABLE, 800)
      yield* buyIn(P2, TABLE, 600)
      yield* buyIn(P3, TABLE, 500)

      // Hand 1: two all-ins at different levels make a main pot and a side pot.
      yield* bet("h1", 2, P2, 10, "BLIND")
      yield* bet("h1", 3, P3, 20, "BLIND")
      yield* bet("h1", 1, P1, 100, "RAISE")
      yield* bet("h1", 2, P2, 90, "CALL")
      yield* bet("h1", 3, P3, 80, "CALL")
      yield* bet("h1", 1, P1, 200, "BET")
      yield* bet("h1", 2, P2, 500, "ALL_IN")
      yield* bet("h1", 3, P3, 400, "ALL_IN")
      yield* bet("h1", 1, P1, 300, "CALL")
      const pot1 = yield* ok("GetPot", { table_id: TABLE, hand_id: "h1" })
      assert.strictEqual(pot1.balance, "1700")
      assert.deepStrictEqual(pot1.pots, [{ amount: "1500", eligible_seats: [1, 2, 3] }, { amount: "200", eligible_seats: [1, 2] }])
      const s1 = yield* settle("h1", [[3, P3, 1500], [2, P2, 200]])
      assert.isFalse(s1.normalised)
      assert.deepStrictEqual(s1.results.map((r: Message) => [r.account_id, r.amount, r.new_balance]), [[P3, "1500", "1500"], [P2, "200", "200"]])

      // Hand 2: blinds posted, then a misdeal.
      yield* bet("h2", 1, P1, 10, "BLIND")
      yield* bet("h2", 2, P2, 20, "BLIND")
      const cancelled = yield* ok("CancelPot", { table_id: TABLE, hand_id: "h2", reason: "misdeal", idempotency_key: key("cancel") })
      assert.deepStrictEqual(cancelled.refunds.map((r: Message) => [r.account_id, r.amount]), [[P1, "10"], [P2, "20"]])

      // Hand 3: P3 folds, the other two split; the requests do not add up, so the service normalises.
      yield* bet("h3", 1, P1, 50, "BET")
      yield* bet("h3", 2, P2, 50, "CALL")
      yield* bet("h3", 3, P3, 50, "CALL")
      assert.deepStrictEqual((yield* ok("GetPot", { table_id: TABLE, hand_id: "h3", folded_seats: [3] })).pots, [
        { amount: "150", eligible_seats: [1, 2] }
      ])
      const s3 = yield* settle("h3", [[1, P1, 100], [2, P2, 100]])
      assert.isTrue(s3.normalised)
      assert.deepStrictEqual(s3.results.map((r: Message) => r.amount), ["75", "75"])

      const stacks = { [P1]: 225, [P2]: 225, [P3]: 1450 }
      for (const [who, chips] of Object.entries(stacks)) assert.strictEqual(yield* stackOf(TABLE, who), chips, who)
      for (const [seat, who] of [[1, P1], [2, P2], [3, P3]] as const) {
        yield* ok("ProcessCashOut", {
          account_id: who, table_id: TABLE, seat_id: seat, amount: String(stacks[who]), idempotency_key: key("out"), hand_id: "h3"
        })
      }

      let total = 0
      for (const who of [P1, P2, P3]) {
        assert.strictEqual(yield* stackOf(TABLE, who), 0)
        const w = yield* call("GetBalance", { account_id: who })
        assert.strictEqual(w.held, "0")
        total += Number(w.balance)
      }
      assert.deepStrictEqual([yield* balanceOf(P1), yield* balanceOf(P2), yield* balanceOf(P3)], [425, 225, 1450])
      assert.strictEqual(total, issued)
      const report = yield* LedgerVerifier.use((v) => v.verifyAll())
      assert.deepStrictEqual(report.findings, [])
      assert.strictEqual(report.totalBalance, 0)

      // Everything P1's wallet went through, from the ledger itself.
      const ledger = (yield* ok("ListLedgerEntries", { account_id: P1 })).entries as Array<Message>
      assert.deepStrictEqual(ledger.map((e) => e.type), ["GRANT", "HOLD", "RELEASE", "HOLD", "BUY_IN", "CASH_OUT"])
      const expected = ledger.map((e) => [e.seq, e.type, e.amount, e.balance_after, e.held_after, String(Number(e.balance_after) - Number(e.held_after))])

      yield* awaitMessages(live, 5)
      assert.deepStrictEqual(live.received.map(summary), expected.slice(1))
      const buyInChange = live.received.find((m) => m.type === "BUY_IN")!
      assert.deepInclude(buyInChange.metadata, { table_id: TABLE })
      assert.notStrictEqual(buyInChange.metadata.reservation_id ?? "", "")
      assert.deepInclude(live.received.at(-1)!.metadata, { table_id: TABLE, seat_id: 1, hand_id: "h3" })

      const replay = yield* watch(P1, "0")
      yield* awaitMessages(replay, 6)
      assert.deepStrictEqual(replay.received.map(summary), expected)
      const fromThree = yield* watch(P1, "3")
      yield* awaitMessages(fromThree, 3)
      assert.deepStrictEqual(fromThree.received.map((m) => m.seq), ["4", "5", "6"])

      // And they stay live.
      yield* ok("Deposit", { account_id: P1, amount: "75", idempotency_key: key("dep"), source: "ADMIN" })
      for (const [s, count] of [[live, 6], [replay, 7], [fromThree, 4]] as const) {
        yield* awaitMessages(s, count)
        assert.deepInclude(s.received.at(-1), { seq: "7", type: "DEPOSIT", amount: "75", balance_after: "500" })
        assert.lengthOf(s.received, count, "no duplicates")
      }
    }))

  it.effect("WatchAccount refuses a malformed account id with INVALID_ARGUMENT", () =>
    Effect.gen(function*() {
      const client = yield* BalanceClient
      const s = yield* client.stream("balance", "WatchAccount", { account_id: "bad:id" })
      yield* eventually("the stream ends", Effect.sync(() => s.ended() !== undefined))
      assert.strictEqual(s.ended()!.code, 3)
      assert.include(s.ended()!.details, "account_id")
      assert.lengthOf(s.received, 0)
    }))
}

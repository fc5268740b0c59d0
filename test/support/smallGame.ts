import { Effect } from "effect"
import { Ledger } from "../../src/ledger/Ledger.ts"

/**
 * A few hands of poker through the ledger, touching every operation: grants,
 * deposits, a withdrawal, buy-ins (reserve + commit), a released hold,
 * contributions, settled and cancelled pots, cash-outs. `round` makes ids and
 * keys unique, so a test can play several rounds on the same books.
 */
export const playRound = (round: number, players: ReadonlyArray<string> = ["alice", "bob", "carol"]) =>
  Effect.gen(function*() {
    const ledger = yield* Ledger
    const table = `t${round % 2}`
    const key = (what: string) => `r${round}-${what}`
    for (const p of players) {
      yield* ledger.execute({ op: "EnsureAccount", accountId: p, initialBalance: 1_000 })
      const { result } = yield* ledger.execute({
        op: "Reserve", accountId: p, tableId: table, amount: 100, timeoutMs: 60_000, idempotencyKey: key(`buy-${p}`)
      })
      yield* ledger.execute({ op: "Commit", reservationId: result.reservationId })
    }
    const spare = yield* ledger.execute({
      op: "Reserve", accountId: players[0]!, tableId: table, amount: 5, timeoutMs: 60_000, idempotencyKey: key("spare")
    })
    yield* ledger.execute({ op: "Release", reservationId: spare.result.reservationId, reason: "changed mind" })
    for (const [hand, settle] of [["h1", true], ["h2", false]] as const) {
      for (const [seat, p] of players.entries()) {
        yield* ledger.execute({
          op: "Contribute", tableId: table, handId: key(hand), seatId: seat + 1, accountId: p, amount: 10 + seat,
          contributionType: "BET", idempotencyKey: key(`${hand}-${p}`)
        })
      }
      if (settle) {
        yield* ledger.execute({
          op: "Settle", tableId: table, handId: key(hand), winners: [{ seatId: 1, accountId: players[0]!, amount: 33 }],
          idempotencyKey: key(`${hand}-settle`)
        })
      } else {
        yield* ledger.execute({ op: "Cancel", tableId: table, handId: key(hand), reason: "misdeal", idempotencyKey: key(`${hand}-cancel`) })
      }
    }
    for (const [seat, p] of players.entries()) {
      yield* ledger.execute({ op: "CashOut", accountId: p, tableId: table, seatId: seat + 1, amount: 50, idempotencyKey: key(`out-${p}`) })
    }
    yield* ledger.execute({ op: "Deposit", accountId: players[1]!, amount: 7, source: "PROMO", idempotencyKey: key("dep") })
    yield* ledger.execute({ op: "Withdraw", accountId: players[players.length - 1]!, amount: 3, reason: "test", idempotencyKey: key("wd") })
  })

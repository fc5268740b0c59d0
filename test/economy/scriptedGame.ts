import type { TestServer } from "../http/support/testServer.ts"
import { execute } from "../http/support/seed.ts"

export const HOUR = 3_600_000
export const DAY = 86_400_000

/** Rake of the scripted game: 5 %. */
export const RAKE_BASIS_POINTS = 500

/**
 * A small game in four phases, each in its own UTC hour (the server's clock is pushed to 00:10 of
 * a day to come, then an hour per phase), and the figures it must produce, worked out by hand from
 * the script below (not from any ledger read):
 *
 *   H0  grants a 1000, b 1000, c 500; deposit a 500                          minted 3000
 *   H1  a, b buy in 400 each at t1 (committed); c holds 300 (released) and 200 (expired);
 *       hand h1: a 100, b 100, settled to a (rake 5 % = 10, a gets 190);
 *       hand h2: a 50, b 50, cancelled (refunds)                             raked 10
 *   H2  cash-outs a 490, b 300; withdraw b 200                               burned 200
 *   H3  deposit c 100                                                       minted 100
 */
export const EXPECTED = {
  hours: [
    { minted: 3000, burned: 0, raked: 0, moved: 3000, transfers: 4, supply: 3000, circulation: 3000 },
    { minted: 0, burned: 0, raked: 10, moved: 1400, transfers: 10, supply: 3000, circulation: 2990 },
    { minted: 0, burned: 200, raked: 0, moved: 990, transfers: 3, supply: 2800, circulation: 2790 },
    { minted: 100, burned: 0, raked: 0, moved: 100, transfers: 1, supply: 2900, circulation: 2890 }
  ],
  byType: {
    GRANT: { chips: 2500, transfers: 3 },
    DEPOSIT: { chips: 600, transfers: 2 },
    WITHDRAW: { chips: 200, transfers: 1 },
    BUY_IN: { chips: 800, transfers: 2 },
    CONTRIBUTION: { chips: 300, transfers: 4 },
    RAKE: { chips: 10, transfers: 1 },
    PAYOUT: { chips: 190, transfers: 1 },
    REFUND: { chips: 100, transfers: 2 },
    CASH_OUT: { chips: 790, transfers: 2 }
  },
  reservations: { created: 4, committed: 2, released: 1, expired: 1, expiryRate: 0.25, chipsHeld: 1300, chipsCommitted: 800 },
  rake: [{ tableId: "t1", raked: 10, handsSettled: 1, potChips: 200 }],
  movers: [
    { accountId: "a", net: 1590, credits: 1990, debits: 400, entries: 4 },
    { accountId: "b", net: 700, credits: 1300, debits: 600, entries: 4 },
    { accountId: "c", net: 600, credits: 600, debits: 0, entries: 2 }
  ]
} as const

/** Plays the script; returns the start of H0 (epoch ms, on the server's clock). */
export const playScriptedGame = async (server: TestServer): Promise<number> => {
  const now = Date.now()
  const h0 = Math.ceil(now / DAY) * DAY
  // To 00:10 of the next UTC day, so that the four hours are one day's.
  await server.advanceClock(h0 + 10 * 60_000 - now)
  const key = (k: string) => `scripted-${k}`

  for (const [accountId, initialBalance] of [["a", 1000], ["b", 1000], ["c", 500]] as const) {
    await execute(server, { op: "EnsureAccount", accountId, initialBalance })
  }
  await execute(server, { op: "Deposit", accountId: "a", amount: 500, source: "PURCHASE", idempotencyKey: key("dep-a") })

  await server.advanceClock(HOUR)
  for (const accountId of ["a", "b"]) {
    const r = await execute(server, { op: "Reserve", accountId, tableId: "t1", amount: 400, timeoutMs: 600_000, idempotencyKey: key(`buyin-${accountId}`) })
    await execute(server, { op: "Commit", reservationId: r.reservationId })
  }
  const released = await execute(server, { op: "Reserve", accountId: "c", tableId: "t1", amount: 300, timeoutMs: 600_000, idempotencyKey: key("hold-c1") })
  await execute(server, { op: "Release", reservationId: released.reservationId, reason: "left" })
  const lapsing = await execute(server, { op: "Reserve", accountId: "c", tableId: "t1", amount: 200, timeoutMs: 1_000, idempotencyKey: key("hold-c2") })
  await server.advanceClock(2_000)
  await execute(server, { op: "Expire", reservationId: lapsing.reservationId })
  const contribute = (handId: string, seatId: number, accountId: string, amount: number) =>
    execute(server, { op: "Contribute", tableId: "t1", handId, seatId, accountId, amount, contributionType: "BET", idempotencyKey: key(`${handId}-${seatId}`) })
  await contribute("h1", 1, "a", 100)
  await contribute("h1", 2, "b", 100)
  await execute(server, { op: "Settle", tableId: "t1", handId: "h1", winners: [{ seatId: 1, accountId: "a", amount: 190 }], idempotencyKey: key("h1-settle") })
  await contribute("h2", 1, "a", 50)
  await contribute("h2", 2, "b", 50)
  await execute(server, { op: "Cancel", tableId: "t1", handId: "h2", reason: "misdeal", idempotencyKey: key("h2-cancel") })

  await server.advanceClock(HOUR)
  await execute(server, { op: "CashOut", accountId: "a", tableId: "t1", seatId: 1, amount: 490, idempotencyKey: key("out-a") })
  await execute(server, { op: "CashOut", accountId: "b", tableId: "t1", seatId: 2, amount: 300, idempotencyKey: key("out-b") })
  await execute(server, { op: "Withdraw", accountId: "b", amount: 200, reason: "cash-out", idempotencyKey: key("wd-b") })

  await server.advanceClock(HOUR)
  await execute(server, { op: "Deposit", accountId: "c", amount: 100, source: "PROMO", idempotencyKey: key("dep-c") })
  return h0
}

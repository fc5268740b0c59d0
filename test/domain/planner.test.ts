import { assert, describe, it } from "@effect/vitest"
import {
  archivedPotMarker,
  emptyPot,
  emptyStack,
  emptyWallet,
  potKey,
  type PotState,
  reservationKey,
  type ReservationState,
  stackKey,
  type StackState,
  type StoredObject,
  type Versioned,
  walletKey,
  type WalletState
} from "../../src/domain/accounts.ts"
import type { Command } from "../../src/domain/commands.ts"
import type { RefusalCode } from "../../src/domain/errors.ts"
import type { Plan } from "../../src/domain/plan.ts"
import { keysFor, plan } from "../../src/domain/planner.ts"
import { type LedgerRules, MAX_RESERVATION_TIMEOUT_MS } from "../../src/domain/rules.ts"

/**
 * The planner, one operation at a time: what a success writes (balances,
 * entries, transfers, system accounts, the response) and every refusal it can
 * answer, each from the state that calls for it.
 */

const NOW = 1_000_000
const MAX = Number.MAX_SAFE_INTEGER
const RULES: LedgerRules = { rake: { basisPoints: 0, capChips: 0, minPotChips: 0 }, reservationTimeoutMs: 30_000 }

const keyOf = (o: StoredObject): string => {
  switch (o.kind) {
    case "wallet":
      return walletKey(o.accountId)
    case "stack":
      return stackKey(o.tableId, o.accountId)
    case "pot":
      return potKey(o.tableId, o.handId)
    case "reservation":
      return reservationKey(o.reservationId)
  }
}
const stateOf = (...objects: ReadonlyArray<StoredObject>): Map<string, Versioned> =>
  new Map(objects.map((o) => [keyOf(o), { version: 3, value: o }]))

const wallet = (accountId: string, balance: number, held = 0): WalletState => ({ ...emptyWallet(accountId, 0), balance, held })
const stack = (tableId: string, accountId: string, balance: number): StackState => ({ ...emptyStack(tableId, accountId), balance })
const pot = (tableId: string, handId: string, rows: ReadonlyArray<readonly [seatId: number, accountId: string, amount: number]>, status: PotState["status"] = "ACTIVE"): PotState => ({
  ...emptyPot(tableId, handId, 0),
  status,
  balance: status === "ACTIVE" ? rows.reduce((s, [, , n]) => s + n, 0) : 0,
  contributions: rows.map(([seatId, accountId, amount]) => ({ seatId, accountId, amount }))
})
const hold = (reservationId: string, accountId: string, amount: number, status: ReservationState["status"] = "HELD", expiresAt = NOW + 30_000): ReservationState => ({
  kind: "reservation", reservationId, accountId, tableId: "t1", amount, status, createdAt: 0, expiresAt
})

/** Every refusal code a test below got from the planner (the last test checks they are all there). */
const seen = new Set<RefusalCode>()

const run = (c: Command, state: Map<string, Versioned>, rules: LedgerRules = RULES) => {
  let n = 0
  return plan(c, state, { now: NOW, newId: () => `id${++n}`, hmacKey: undefined }, rules)
}
const refused = (c: Command, state: Map<string, Versioned>, code: RefusalCode, rules?: LedgerRules) => {
  const outcome = run(c, state, rules)
  assert.strictEqual(outcome._tag, "Refusal", JSON.stringify(outcome).slice(0, 200))
  if (outcome._tag === "Refusal") {
    assert.strictEqual(outcome.code, code)
    seen.add(outcome.code)
  }
}
const planned = (c: Command, state: Map<string, Versioned>, rules?: LedgerRules): Plan => {
  const outcome = run(c, state, rules)
  if (outcome._tag !== "Plan") throw new Error(`expected a plan, got ${JSON.stringify(outcome).slice(0, 300)}`)
  return outcome.plan
}
const unchanged = (c: Command, state: Map<string, Versioned>) => {
  const outcome = run(c, state)
  if (outcome._tag !== "NoChange") throw new Error(`expected no change, got ${JSON.stringify(outcome).slice(0, 300)}`)
  return outcome.response
}
/** The value a plan writes under `key`. */
const written = <T extends StoredObject>(p: Plan, key: string): T => {
  const w = p.writes.find((x) => x.key === key)
  if (!w) throw new Error(`the plan writes nothing under ${key}`)
  return w.value as T
}
const moves = (p: Plan) => p.transfers.map((t) => `${t.type} ${t.from}->${t.to} ${t.amount}`)

describe("planner: wallets", () => {
  it("EnsureAccount creates the wallet once, granting the initial balance from mint", () => {
    const p = planned({ op: "EnsureAccount", accountId: "al", initialBalance: 500 }, stateOf())
    assert.deepInclude(written<WalletState>(p, walletKey("al")), { balance: 500, held: 0, seq: 1 })
    assert.deepStrictEqual(moves(p), ["GRANT x:mint->w:al 500"])
    assert.deepStrictEqual(p.system, [{ account: "mint", delta: -500 }])
    assert.deepStrictEqual(p.response, { accountId: "al", balance: 500, created: true })
    assert.deepStrictEqual(unchanged({ op: "EnsureAccount", accountId: "al", initialBalance: 9 }, stateOf(wallet("al", 70))), {
      accountId: "al", balance: 70, created: false
    })
  })

  it("Deposit: mint -> wallet; ACCOUNT_NOT_FOUND; AMOUNT_OVERFLOW past the safe integers", () => {
    const c = { op: "Deposit", accountId: "al", amount: 30, source: "ADMIN", idempotencyKey: "k" } as const
    const p = planned(c, stateOf(wallet("al", 100, 40)))
    assert.deepInclude(written<WalletState>(p, walletKey("al")), { balance: 130, held: 40 })
    assert.deepStrictEqual(moves(p), ["DEPOSIT x:mint->w:al 30"])
    assert.deepInclude(p.response as object, { balance: 130, availableBalance: 90, amount: 30 })
    refused(c, stateOf(), "ACCOUNT_NOT_FOUND")
    refused(c, stateOf(wallet("al", MAX - 10)), "AMOUNT_OVERFLOW")
  })

  it("Withdraw: wallet -> burn from what is available (balance - held); ACCOUNT_NOT_FOUND; INSUFFICIENT_BALANCE", () => {
    const c = { op: "Withdraw", accountId: "al", amount: 60, reason: "r", idempotencyKey: "k" } as const
    const p = planned(c, stateOf(wallet("al", 100, 40)))
    assert.deepInclude(written<WalletState>(p, walletKey("al")), { balance: 40, held: 40 })
    assert.deepStrictEqual(moves(p), ["WITHDRAW w:al->x:burn 60"])
    assert.deepStrictEqual(p.system, [{ account: "burn", delta: 60 }])
    refused(c, stateOf(), "ACCOUNT_NOT_FOUND")
    refused(c, stateOf(wallet("al", 100, 41)), "INSUFFICIENT_BALANCE")
  })
})

describe("planner: reservations", () => {
  const reserve = (timeoutMs: number, amount = 50) =>
    ({ op: "Reserve", accountId: "al", tableId: "t1", amount, timeoutMs, idempotencyKey: "k" }) as const

  it("Reserve holds chips (held += amount, nothing moves) until the default or asked timeout", () => {
    const p = planned(reserve(0), stateOf(wallet("al", 100, 20)))
    assert.deepInclude(written<WalletState>(p, walletKey("al")), { balance: 100, held: 70 })
    assert.deepStrictEqual(p.transfers, [])
    assert.deepStrictEqual(p.entries.map((e) => [e.type, e.amount, e.heldDelta]), [["HOLD", 0, 50]])
    assert.deepStrictEqual(p.response, { reservationId: "id1", availableBalance: 30, expiresAt: NOW + 30_000 })
    assert.deepInclude(written<ReservationState>(p, reservationKey("id1")), { status: "HELD", amount: 50 })
    assert.deepStrictEqual(p.expiryAdd, [{ reservationId: "id1", expiresAt: NOW + 30_000 }])
    assert.strictEqual((planned(reserve(MAX_RESERVATION_TIMEOUT_MS), stateOf(wallet("al", 100))).response as { expiresAt: number }).expiresAt, NOW + MAX_RESERVATION_TIMEOUT_MS)
  })

  it("Reserve: INVALID_TIMEOUT (checked first: the request alone decides), ACCOUNT_NOT_FOUND, INSUFFICIENT_BALANCE", () => {
    for (const t of [-1, 1.5, MAX_RESERVATION_TIMEOUT_MS + 1]) refused(reserve(t), stateOf(), "INVALID_TIMEOUT")
    refused(reserve(0), stateOf(), "ACCOUNT_NOT_FOUND")
    refused(reserve(0, 81), stateOf(wallet("al", 100, 20)), "INSUFFICIENT_BALANCE")
  })

  it("Commit turns the hold into the buy-in: wallet -> stack, hold dropped; a repeat answers the first commit", () => {
    const p = planned({ op: "Commit", reservationId: "r1" }, stateOf(wallet("al", 100, 50), hold("r1", "al", 50)))
    assert.deepInclude(written<WalletState>(p, walletKey("al")), { balance: 50, held: 0 })
    assert.deepInclude(written<StackState>(p, stackKey("t1", "al")), { balance: 50 })
    assert.deepStrictEqual(moves(p), ["BUY_IN w:al->s:t1:al 50"])
    assert.deepStrictEqual(p.response, { transactionId: "id1", newBalance: 50 })
    const committed = { ...hold("r1", "al", 50, "COMMITTED"), commit: { transactionId: "t9", newBalance: 7 } }
    assert.deepStrictEqual(unchanged({ op: "Commit", reservationId: "r1" }, stateOf(wallet("al", 7), committed)), { transactionId: "t9", newBalance: 7 })
  })

  it("Commit: RESERVATION_NOT_FOUND, RESERVATION_NOT_HELD, RESERVATION_EXPIRED (at the deadline, sweep or not), AMOUNT_OVERFLOW", () => {
    const c = { op: "Commit", reservationId: "r1" } as const
    refused(c, stateOf(), "RESERVATION_NOT_FOUND")
    refused(c, stateOf(wallet("al", 100), hold("r1", "al", 50, "RELEASED")), "RESERVATION_NOT_HELD")
    refused(c, stateOf(wallet("al", 100, 50), hold("r1", "al", 50, "HELD", NOW)), "RESERVATION_EXPIRED")
    refused(c, stateOf(wallet("al", 100, 50), hold("r1", "al", 50), stack("t1", "al", MAX - 10)), "AMOUNT_OVERFLOW")
  })

  it("Release voids a hold; releasing a released or expired one answers its status; RESERVATION_NOT_FOUND, ALREADY_COMMITTED", () => {
    const p = planned({ op: "Release", reservationId: "r1", reason: "left" }, stateOf(wallet("al", 100, 50), hold("r1", "al", 50)))
    assert.deepInclude(written<WalletState>(p, walletKey("al")), { balance: 100, held: 0 })
    assert.deepStrictEqual(p.response, { availableBalance: 100, status: "RELEASED" })
    assert.deepStrictEqual(p.expiryRemove, ["r1"])
    assert.deepStrictEqual(unchanged({ op: "Release", reservationId: "r1", reason: "x" }, stateOf(wallet("al", 100), hold("r1", "al", 50, "EXPIRED"))), {
      availableBalance: 100, status: "EXPIRED"
    })
    refused({ op: "Release", reservationId: "r1", reason: "x" }, stateOf(), "RESERVATION_NOT_FOUND")
    refused({ op: "Release", reservationId: "r1", reason: "x" }, stateOf(wallet("al", 0), hold("r1", "al", 50, "COMMITTED")), "ALREADY_COMMITTED")
  })

  it("Expire voids a due hold only, saying how late", () => {
    const due = hold("r1", "al", 50, "HELD", NOW - 250)
    const p = planned({ op: "Expire", reservationId: "r1" }, stateOf(wallet("al", 100, 50), due))
    assert.deepInclude(written<ReservationState>(p, reservationKey("r1")), { status: "EXPIRED" })
    assert.deepStrictEqual(p.response, { expired: true, lateByMs: 250 })
    assert.deepStrictEqual(unchanged({ op: "Expire", reservationId: "r1" }, stateOf(wallet("al", 100, 50), hold("r1", "al", 50))), { expired: false, lateByMs: 0 })
    assert.deepStrictEqual(unchanged({ op: "Expire", reservationId: "nope" }, stateOf()), { expired: false, lateByMs: 0 })
  })

  it("a hold its wallet does not carry (state mixed from different moments) is Inconsistent, not a thrown bug", () => {
    const outcome = run({ op: "Release", reservationId: "r1", reason: "x" }, stateOf(wallet("al", 100, 10), hold("r1", "al", 50)))
    assert.strictEqual(outcome._tag, "Inconsistent")
    assert.strictEqual(run({ op: "Release", reservationId: "r1", reason: "x" }, stateOf(hold("r1", "al", 50)))._tag, "Inconsistent")
  })
})

describe("planner: tables", () => {
  const contribute = (seatId: number, accountId: string, amount: number) =>
    ({ op: "Contribute", tableId: "t1", handId: "h1", seatId, accountId, amount, contributionType: "BET", idempotencyKey: "k" }) as const

  it("Contribute: stack -> pot, opening the pot ACTIVE on first use and keeping one row per seat", () => {
    const first = planned(contribute(2, "bo", 30), stateOf(stack("t1", "bo", 100)))
    assert.deepInclude(written<PotState>(first, potKey("t1", "h1")), { status: "ACTIVE", balance: 30, contributions: [{ seatId: 2, accountId: "bo", amount: 30 }] })
    assert.deepStrictEqual(moves(first), ["CONTRIBUTION s:t1:bo->p:t1:h1 30"])
    const again = planned(contribute(2, "bo", 20), stateOf(stack("t1", "bo", 70), pot("t1", "h1", [[2, "bo", 30]])))
    assert.deepStrictEqual(again.response, { transactionId: "id1", totalPot: 50, seatContribution: 50, stack: 50 })
  })

  it("Contribute: INSUFFICIENT_STACK, POT_NOT_ACTIVE, INVALID_SEAT_ID (a seat is one account's, an account plays one seat), AMOUNT_OVERFLOW", () => {
    refused(contribute(2, "bo", 101), stateOf(stack("t1", "bo", 100)), "INSUFFICIENT_STACK")
    refused(contribute(2, "bo", 1), stateOf(), "INSUFFICIENT_STACK")
    refused(contribute(2, "bo", 10), stateOf(stack("t1", "bo", 100), pot("t1", "h1", [[2, "bo", 5]], "SETTLED")), "POT_NOT_ACTIVE")
    refused(contribute(2, "bo", 10), stateOf(stack("t1", "bo", 100), pot("t1", "h1", [[2, "cy", 5]])), "INVALID_SEAT_ID")
    refused(contribute(3, "bo", 10), stateOf(stack("t1", "bo", 100), pot("t1", "h1", [[2, "bo", 5]])), "INVALID_SEAT_ID")
    refused(contribute(2, "bo", 10), stateOf(stack("t1", "bo", 100), pot("t1", "h1", [[1, "cy", MAX - 5]])), "AMOUNT_OVERFLOW")
  })

  it("Settle: pot -> rake and winners' stacks, pot SETTLED at 0; requests that do not add up are normalised, odd chip to the lowest seat", () => {
    const rules: LedgerRules = { ...RULES, rake: { basisPoints: 1000, capChips: 0, minPotChips: 0 } }
    const state = stateOf(pot("t1", "h1", [[1, "al", 51], [2, "bo", 50]]), stack("t1", "al", 0), stack("t1", "bo", 5))
    const p = planned({ op: "Settle", tableId: "t1", handId: "h1", winners: [{ seatId: 2, accountId: "bo", amount: 1 }, { seatId: 1, accountId: "al", amount: 1 }], idempotencyKey: "k" }, state, rules)
    // pot 101, rake floor(10.1) = 10, 91 split 1:1 = 45 + 45, the odd chip to seat 1
    assert.deepStrictEqual(moves(p), ["RAKE p:t1:h1->x:rake 10", "PAYOUT p:t1:h1->s:t1:bo 45", "PAYOUT p:t1:h1->s:t1:al 46"])
    assert.deepInclude(written<PotState>(p, potKey("t1", "h1")), { status: "SETTLED", balance: 0 })
    assert.deepInclude(p.response as object, { rake: 10, normalised: true })
    assert.deepStrictEqual((p.response as { results: ReadonlyArray<{ newBalance: number }> }).results.map((r) => r.newBalance), [50, 46])
    const exact = planned({ op: "Settle", tableId: "t1", handId: "h1", winners: [{ seatId: 1, accountId: "al", amount: 101 }], idempotencyKey: "k" }, state)
    assert.deepInclude(exact.response as object, { rake: 0, normalised: false })
  })

  it("Settle: POT_NOT_FOUND, POT_NOT_ACTIVE, INVALID_WINNERS (none, a seat twice, a winner who put nothing in)", () => {
    const settle = (winners: ReadonlyArray<{ seatId: number; accountId: string; amount: number }>) =>
      ({ op: "Settle", tableId: "t1", handId: "h1", winners, idempotencyKey: "k" }) as const
    const live = stateOf(pot("t1", "h1", [[1, "al", 10], [2, "bo", 10]]))
    refused(settle([{ seatId: 1, accountId: "al", amount: 20 }]), stateOf(), "POT_NOT_FOUND")
    refused(settle([{ seatId: 1, accountId: "al", amount: 20 }]), stateOf(pot("t1", "h1", [[1, "al", 10]], "CANCELLED")), "POT_NOT_ACTIVE")
    refused(settle([]), live, "INVALID_WINNERS")
    refused(settle([{ seatId: 1, accountId: "al", amount: 10 }, { seatId: 1, accountId: "al", amount: 10 }]), live, "INVALID_WINNERS")
    refused(settle([{ seatId: 3, accountId: "cy", amount: 20 }]), live, "INVALID_WINNERS")
  })

  it("Cancel refunds each contributor exactly; again on a cancelled pot answers the same refunds; POT_NOT_FOUND, POT_NOT_ACTIVE", () => {
    const c = { op: "Cancel", tableId: "t1", handId: "h1", reason: "misdeal" } as const
    const p = planned(c, stateOf(pot("t1", "h1", [[1, "al", 10], [2, "bo", 25]])))
    assert.deepStrictEqual(moves(p), ["REFUND p:t1:h1->s:t1:al 10", "REFUND p:t1:h1->s:t1:bo 25"])
    assert.deepInclude(written<PotState>(p, potKey("t1", "h1")), { status: "CANCELLED", balance: 0 })
    const refunds = [{ seatId: 1, accountId: "al", amount: 10 }, { seatId: 2, accountId: "bo", amount: 25 }]
    assert.deepStrictEqual(p.response, { refunds })
    assert.deepStrictEqual(unchanged(c, stateOf(pot("t1", "h1", [[1, "al", 10], [2, "bo", 25]], "CANCELLED"))), { refunds })
    refused(c, stateOf(), "POT_NOT_FOUND")
    refused(c, stateOf(pot("t1", "h1", [[1, "al", 10]], "SETTLED")), "POT_NOT_ACTIVE")
  })

  it("an archived settled pot (the marker Redis keeps, contributions in PostgreSQL) refuses Contribute, Settle and Cancel with POT_NOT_ACTIVE as the full pot does", () => {
    const settled = pot("t1", "h1", [[1, "al", 10], [2, "bo", 25]], "SETTLED")
    const marker = archivedPotMarker({ ...settled, seq: 4, checksum: "c4", closedAt: 7 })!
    assert.deepStrictEqual(marker, { ...settled, seq: 4, checksum: "c4", closedAt: 7, contributions: [], archived: true })
    assert.isNull(archivedPotMarker(pot("t1", "h1", [[1, "al", 10]], "CANCELLED")), "a cancelled pot keeps its contributions")
    assert.isNull(archivedPotMarker(pot("t1", "h1", [[1, "al", 10]])), "an active pot is never archived")
    assert.isNull(archivedPotMarker(marker), "a marker is not archived twice")
    const settle = { op: "Settle", tableId: "t1", handId: "h1", winners: [{ seatId: 1, accountId: "al", amount: 35 }], idempotencyKey: "k2" } as const
    const cancel = { op: "Cancel", tableId: "t1", handId: "h1", reason: "late" } as const
    // The seat in the winners and the contribution match a row only the full pot has: the marker
    // must refuse on its status, not on rows it no longer holds (INVALID_WINNERS, INVALID_SEAT_ID).
    for (const p of [settled, marker]) {
      refused(contribute(1, "al", 10), stateOf(stack("t1", "al", 100), p), "POT_NOT_ACTIVE")
      refused(contribute(3, "cy", 10), stateOf(stack("t1", "cy", 100), p), "POT_NOT_ACTIVE")
      refused(settle, stateOf(p, stack("t1", "al", 0)), "POT_NOT_ACTIVE")
    }
    // Cancel loads the contributors' stacks of a pot it can refund; the marker names none and is refused.
    assert.deepStrictEqual(keysFor(cancel, stateOf(marker)), [potKey("t1", "h1")])
    refused(cancel, stateOf(marker), "POT_NOT_ACTIVE")
    // A marker that claims to be cancelled would answer refunds it did not make: the state is inconsistent.
    assert.strictEqual(run(cancel, stateOf({ ...marker, status: "CANCELLED" }))._tag, "Inconsistent")
  })

  it("CashOut: stack -> wallet; ACCOUNT_NOT_FOUND, INSUFFICIENT_STACK, AMOUNT_OVERFLOW", () => {
    const c = { op: "CashOut", accountId: "al", tableId: "t1", seatId: 1, amount: 40, idempotencyKey: "k" } as const
    const p = planned(c, stateOf(wallet("al", 10), stack("t1", "al", 40)))
    assert.deepStrictEqual(moves(p), ["CASH_OUT s:t1:al->w:al 40"])
    assert.deepStrictEqual(p.response, { transactionId: "id1", newBalance: 50, stack: 0 })
    refused(c, stateOf(stack("t1", "al", 40)), "ACCOUNT_NOT_FOUND")
    refused(c, stateOf(wallet("al", 10), stack("t1", "al", 39)), "INSUFFICIENT_STACK")
    refused(c, stateOf(wallet("al", MAX - 10), stack("t1", "al", 40)), "AMOUNT_OVERFLOW")
  })
})

describe("planner: refusals", () => {
  it("every refusal the planner can give was met above", () => {
    assert.deepStrictEqual([...seen].sort(), [
      "ACCOUNT_NOT_FOUND", "ALREADY_COMMITTED", "AMOUNT_OVERFLOW", "INSUFFICIENT_BALANCE", "INSUFFICIENT_STACK",
      "INVALID_SEAT_ID", "INVALID_TIMEOUT", "INVALID_WINNERS", "POT_NOT_ACTIVE", "POT_NOT_FOUND",
      "RESERVATION_EXPIRED", "RESERVATION_NOT_FOUND", "RESERVATION_NOT_HELD"
    ])
  })
})

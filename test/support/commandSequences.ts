import { Effect } from "effect"
import { TestClock } from "effect/testing"
import * as fc from "fast-check"
import { type ReservationState, reservationKey, type StoredObject, type WalletState } from "../../src/domain/accounts.ts"
import type { Command } from "../../src/domain/commands.ts"
import type { Refusal } from "../../src/domain/errors.ts"
import { Ledger } from "../../src/ledger/Ledger.ts"
import { LedgerVerifier } from "../../src/ledger/LedgerVerifier.ts"
import { Store } from "../../src/store/Store.ts"

/**
 * Random operation sequences over a small universe (3 players, 2 tables,
 * 3 hands, a small pool of idempotency keys so keys collide), and an
 * interpreter that checks the ledger's invariants after every step.
 */

const ACCOUNTS = ["a", "b", "c"] as const
const TABLES = ["t1", "t2"] as const
const HANDS = ["h1", "h2", "h3"] as const
const SHARED_KEYS = ["k1", "k2", "k3"] as const

/** Commit/Release/Expire name a reservation by its index among those created so far (or one that never existed). */
export type Step =
  | { readonly kind: "command"; readonly command: Command }
  | { readonly kind: "byReservation"; readonly op: "Commit" | "Release" | "Expire"; readonly index: number }
  /** Reserve then commit at once: the usual buy-in, so that sequences reach hands and settlements. */
  | { readonly kind: "buyIn"; readonly reserve: Command & { readonly op: "Reserve" } }
  | { readonly kind: "tick"; readonly ms: number }

const amount = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 1, max: 300 }) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }) }
)
const account = fc.constantFrom(...ACCOUNTS)
const table = fc.constantFrom(...TABLES)
const hand = fc.constantFrom(...HANDS)
/** Mostly fresh keys; sometimes a shared one, so keys collide across different requests. */
const key = fc.oneof(
  { weight: 9, arbitrary: fc.integer({ min: 1, max: 1_000_000_000 }).map((n) => `u${n}`) },
  { weight: 1, arbitrary: fc.constantFrom(...SHARED_KEYS) }
)
const seatOf = (a: string) => ACCOUNTS.indexOf(a as (typeof ACCOUNTS)[number]) + 1

const command = (c: Command): Step => ({ kind: "command", command: c })

const reserveCommand = fc.record({ a: account, t: table, n: amount, k: key, timeout: fc.constantFrom(0, 1000, 5000) }).map(
  ({ a, t, n, k, timeout }) => ({ op: "Reserve" as const, accountId: a, tableId: t, amount: n, timeoutMs: timeout, idempotencyKey: k })
)

export const stepArbitrary: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ a: account, n: fc.oneof(fc.constant(0), amount) }).map(({ a, n }) =>
    command({ op: "EnsureAccount", accountId: a, initialBalance: n })
  ),
  fc.record({ a: account, n: amount, k: key }).map(({ a, n, k }) =>
    command({ op: "Deposit", accountId: a, amount: n, source: "ADMIN", idempotencyKey: k })
  ),
  fc.record({ a: account, n: amount, k: key }).map(({ a, n, k }) =>
    command({ op: "Withdraw", accountId: a, amount: n, reason: "test", idempotencyKey: k })
  ),
  reserveCommand.map(command),
  { weight: 3, arbitrary: reserveCommand.map((reserve): Step => ({ kind: "buyIn", reserve })) },
  { weight: 2, arbitrary: fc.record({ op: fc.constantFrom("Commit" as const, "Release" as const, "Expire" as const), index: fc.nat(8) }).map(
    ({ op, index }): Step => ({ kind: "byReservation", op, index })
  ) },
  { weight: 5, arbitrary: fc.record({ a: account, t: table, h: hand, n: amount, k: key }).map(({ a, t, h, n, k }) =>
    command({ op: "Contribute", tableId: t, handId: h, seatId: seatOf(a), accountId: a, amount: n, contributionType: "BET", idempotencyKey: k })
  ) },
  { weight: 2, arbitrary: fc.record({
    t: table,
    h: hand,
    winners: fc.uniqueArray(fc.record({ a: account, n: fc.oneof(fc.constant(0), amount) }), {
      minLength: 1,
      maxLength: 3,
      selector: (w) => w.a
    }),
    k: key
  }).map(({ t, h, winners, k }) =>
    command({
      op: "Settle",
      tableId: t,
      handId: h,
      winners: winners.map((w) => ({ seatId: seatOf(w.a), accountId: w.a, amount: w.n })),
      idempotencyKey: k
    })
  ) },
  fc.record({ t: table, h: hand }).map(({ t, h }) => command({ op: "Cancel", tableId: t, handId: h, reason: "misdeal" })),
  { weight: 2, arbitrary: fc.record({ a: account, t: table, n: amount, k: key }).map(({ a, t, n, k }) =>
    command({ op: "CashOut", accountId: a, tableId: t, seatId: seatOf(a), amount: n, idempotencyKey: k })
  ) },
  fc.integer({ min: 1, max: 3000 }).map((ms): Step => ({ kind: "tick", ms }))
)

/** Every sequence opens the three wallets with some chips, then runs random steps. */
const opening = fc.tuple(...ACCOUNTS.map((a) =>
  fc.integer({ min: 0, max: 2000 }).map((n) => command({ op: "EnsureAccount", accountId: a, initialBalance: n }))
))

export const sequenceArbitrary = fc.tuple(opening, fc.array(stepArbitrary, { minLength: 5, maxLength: 40 })).map(
  ([open, steps]) => [...open, ...steps]
)

export type TraceLine = { readonly ok: unknown; readonly replayed: boolean } | { readonly refused: string } | { readonly tick: number }

const refusalCode = (e: unknown) =>
  typeof e === "object" && e !== null && "code" in e ? String((e as Refusal).code) : String((e as { _tag?: string })._tag)

/** Everything observable about the ledger's balances, for invariant checks and "nothing changed" comparisons. */
const snapshot = Effect.gen(function*() {
  const store = yield* Store
  const refs: Array<string> = []
  let cursor: string | null = null
  do {
    const page: { items: ReadonlyArray<string>; nextCursor: string | null } = yield* store.accounts(cursor, 500)
    refs.push(...page.items)
    cursor = page.nextCursor
  } while (cursor !== null)
  const objects = (yield* store.load(refs)).objects
  const system = yield* store.systemBalances()
  return { refs, objects, system }
})

const digest = (s: Effect.Success<typeof snapshot>) =>
  JSON.stringify([s.refs, [...s.objects].map(([k, v]) => [k, v.version, v.value]), s.system])

const assertInvariants = (
  s: Effect.Success<typeof snapshot>,
  reservations: ReadonlyMap<string, StoredObject | null>,
  where: string
) => {
  let total = s.system.mint + s.system.burn + s.system.rake
  const heldByWallet = new Map<string, number>()
  for (const r of reservations.values()) {
    const res = r as ReservationState | null
    if (res && res.status === "HELD") heldByWallet.set(res.accountId, (heldByWallet.get(res.accountId) ?? 0) + res.amount)
  }
  for (const [ref, v] of s.objects) {
    const o = v.value
    if (o === null || o.kind === "reservation") throw new Error(`${where}: indexed account ${ref} has no state`)
    if (o.balance < 0) throw new Error(`${where}: ${ref} is negative (${o.balance})`)
    total += o.balance
    if (o.kind === "wallet") {
      const w = o as WalletState
      if (w.held < 0 || w.held > w.balance) throw new Error(`${where}: ${ref} held ${w.held} outside 0..${w.balance}`)
      const expected = heldByWallet.get(w.accountId) ?? 0
      if (w.held !== expected) throw new Error(`${where}: ${ref} held ${w.held} but HELD reservations sum to ${expected}`)
    }
  }
  if (total !== 0) throw new Error(`${where}: balances sum to ${total}`)
}

/** A different request under the same key: same op, amount changed where there is one. */
const alteredRequest = (c: Command): Command | undefined =>
  "amount" in c && typeof c.amount === "number" ? ({ ...c, amount: c.amount === 1 ? 2 : c.amount - 1 } as Command) : undefined

/**
 * Runs the steps, checking after each: Σ balances = 0, nothing negative,
 * held = Σ HELD reservations; every success with a key replays to the
 * identical response without changing anything, and the key with another
 * request is refused without changing anything. Ends with a full
 * verification. Returns the trace (ids are deterministic when the ledger's
 * newId is).
 */
export const runSequence = <R = never>(
  steps: ReadonlyArray<Step>,
  /** Runs after step i (and once at the end, with i = steps.length), e.g. an archiver pass. */
  afterStep?: (i: number) => Effect.Effect<unknown, unknown, R>
) =>
  Effect.gen(function*() {
    const ledger = yield* Ledger
    const store = yield* Store
    const reservationIds: Array<string> = []
    const trace: Array<TraceLine> = []
    const reservations = () =>
      reservationIds.length === 0
        ? Effect.succeed(new Map<string, StoredObject | null>())
        : Effect.map(store.load(reservationIds.map(reservationKey)), (s) => new Map([...s.objects].map(([k, v]) => [k, v.value])))

    for (const [i, step] of steps.entries()) {
      if (step.kind === "tick") {
        yield* TestClock.adjust(step.ms)
        trace.push({ tick: step.ms })
        continue
      }
      const pick = (index: number) =>
        reservationIds.length === 0 || index === 8 ? "missing" : reservationIds[index % reservationIds.length]!
      const c: Command = step.kind === "command"
        ? step.command
        : step.kind === "buyIn"
        ? step.reserve
        : step.op === "Release"
        ? { op: "Release", reservationId: pick(step.index), reason: "test" }
        : { op: step.op, reservationId: pick(step.index) }
      const exit = yield* Effect.result(ledger.execute(c))
      if (exit._tag === "Success") {
        trace.push({ ok: exit.success.result, replayed: exit.success.replayed })
        const r = exit.success.result as { reservationId?: string }
        if (c.op === "Reserve" && r.reservationId && !reservationIds.includes(r.reservationId)) reservationIds.push(r.reservationId)
        if ("idempotencyKey" in c && c.idempotencyKey !== undefined) {
          const before = digest(yield* snapshot)
          const replay = yield* ledger.execute(c)
          if (!replay.replayed) throw new Error(`step ${i}: replay of ${c.op} was not recognised as a replay`)
          if (JSON.stringify(replay.result) !== JSON.stringify(exit.success.result)) {
            throw new Error(`step ${i}: replay of ${c.op} answered differently`)
          }
          const other = alteredRequest(c)
          if (other) {
            const reused = yield* Effect.flip(ledger.execute(other))
            if (refusalCode(reused) !== "IDEMPOTENCY_KEY_REUSED") throw new Error(`step ${i}: reused key gave ${refusalCode(reused)}`)
          }
          if (digest(yield* snapshot) !== before) throw new Error(`step ${i}: a replay or reused key changed state`)
        }
      } else {
        trace.push({ refused: refusalCode(exit.failure) })
      }
      assertInvariants(yield* snapshot, yield* reservations(), `step ${i} (${c.op})`)
      if (step.kind === "buyIn" && exit._tag === "Success") {
        const id = (exit.success.result as { reservationId: string }).reservationId
        const commit = yield* Effect.result(ledger.execute({ op: "Commit", reservationId: id }))
        trace.push(commit._tag === "Success" ? { ok: commit.success.result, replayed: false } : { refused: refusalCode(commit.failure) })
        assertInvariants(yield* snapshot, yield* reservations(), `step ${i} (buy-in commit)`)
      }
      if (afterStep) yield* afterStep(i)
    }
    if (afterStep) yield* afterStep(steps.length)
    const report = yield* (yield* LedgerVerifier).verifyAll()
    if (!report.ok) throw new Error(`verification failed: ${JSON.stringify(report.findings)}`)
    return trace
  })

/** FC_SEED pins a failing run; FC_RUNS scales the number of sequences. */
export const propertyParameters = (defaultRuns: number): fc.Parameters<unknown> => {
  const seed = process.env.FC_SEED ? Number(process.env.FC_SEED) : undefined
  const numRuns = process.env.FC_RUNS ? Number(process.env.FC_RUNS) : defaultRuns
  return seed === undefined ? { numRuns } : { numRuns, seed }
}

export const counterIds = () => {
  let n = 0
  return () => `id-${++n}`
}

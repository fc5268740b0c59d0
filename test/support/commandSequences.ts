import { Clock, Effect, type Result } from "effect"
import { TestClock } from "effect/testing"
import * as fc from "fast-check"
import {
  type ReservationState,
  reservationKey,
  type StoredObject,
  type WalletState
} from "../../src/domain/accounts.ts"
import type { Command } from "../../src/domain/commands.ts"
import type { Refusal } from "../../src/domain/errors.ts"
import { type ExecuteError, type Executed, Ledger } from "../../src/ledger/Ledger.ts"
import { LedgerSettings } from "../../src/ledger/LedgerSettings.ts"
import { LedgerVerifier } from "../../src/ledger/LedgerVerifier.ts"
import { Store } from "../../src/store/Store.ts"
import { BooksModel, type Prediction } from "./referenceModel.ts"

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
  /**
   * A bet or a cash-out of a share (at least 1 chip) of a stack that holds chips now, the
   * `index`-th of them; of `accountId`'s at `tableId` when there is none.
   */
  | {
    readonly kind: "fromStack"
    readonly op: "Contribute" | "CashOut"
    readonly index: number
    readonly accountId: string
    readonly tableId: string
    readonly handId: string
    readonly percent: number
    readonly idempotencyKey: string
  }
  /** Cancels the `index`-th hand played so far, whatever its pot's status; `tableId`/`handId` when none was. */
  | { readonly kind: "cancelPot"; readonly index: number; readonly tableId: string; readonly handId: string }
  /**
   * Settles the `index`-th active hand (`tableId`/`handId` when there is none) with winners taken
   * from those who really contributed to it (chosen by `pick`'s bits), so that sequences reach
   * settlements; a hand nobody played is settled with seat 1.
   * `whole`: the first winner asks for the whole pot (honoured exactly when there is no rake).
   */
  | {
    readonly kind: "settleContributors"
    readonly index: number
    readonly tableId: string
    readonly handId: string
    readonly pick: number
    readonly requests: ReadonlyArray<number>
    readonly whole: boolean
    readonly idempotencyKey: string
  }

const amount = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 1, max: 300 }) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }) }
)
/** Bets small enough that stacks bought in with a few hundred chips can make them several times. */
const bet = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 1, max: 60 }) },
  { weight: 1, arbitrary: amount }
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
  { weight: 6, arbitrary: fc.record({ a: account, t: table, h: hand, n: bet, k: key }).map(({ a, t, h, n, k }) =>
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
  { weight: 6, arbitrary: fc.record({
    op: fc.constantFrom("Contribute" as const, "Contribute" as const, "CashOut" as const),
    index: fc.nat(5),
    a: account,
    t: table,
    h: hand,
    percent: fc.integer({ min: 1, max: 100 }),
    k: key
  }).map(({ op, index, a, t, h, percent, k }): Step => ({
    kind: "fromStack",
    op,
    index,
    accountId: a,
    tableId: t,
    handId: h,
    percent,
    idempotencyKey: k
  })) },
  { weight: 3, arbitrary: fc.record({
    index: fc.nat(5),
    t: table,
    h: hand,
    pick: fc.integer({ min: 1, max: 7 }),
    requests: fc.array(fc.oneof(fc.constant(0), bet), { minLength: 3, maxLength: 3 }),
    whole: fc.boolean(),
    k: key
  }).map(({ index, t, h, pick, requests, whole, k }): Step => ({
    kind: "settleContributors",
    index,
    tableId: t,
    handId: h,
    pick,
    requests,
    whole,
    idempotencyKey: k
  })) },
  { weight: 2, arbitrary: fc.record({ index: fc.nat(5), t: table, h: hand }).map(({ index, t, h }): Step => ({ kind: "cancelPot", index, tableId: t, handId: h })) },
  { weight: 2, arbitrary: fc.record({ a: account, t: table, n: amount, k: key }).map(({ a, t, n, k }) =>
    command({ op: "CashOut", accountId: a, tableId: t, seatId: seatOf(a), amount: n, idempotencyKey: k })
  ) },
  fc.integer({ min: 1, max: 3000 }).map((ms): Step => ({ kind: "tick", ms }))
)

/** Every sequence opens the three wallets with some chips and buys each player in at t1, then runs random steps. */
const opening = fc.tuple(...ACCOUNTS.map((a) =>
  fc.record({ n: fc.integer({ min: 0, max: 2000 }), buyIn: fc.integer({ min: 1, max: 600 }) }).map(({ n, buyIn }) => [
    command({ op: "EnsureAccount", accountId: a, initialBalance: n }),
    { kind: "buyIn", reserve: { op: "Reserve", accountId: a, tableId: "t1", amount: buyIn, timeoutMs: 0, idempotencyKey: `open-${a}` } } as const
  ])
))

export const sequenceArbitrary = fc.tuple(opening, fc.array(stepArbitrary, { minLength: 5, maxLength: 40 })).map(
  ([open, steps]): Array<Step> => [...open.flat(), ...steps]
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

/** The ledger's answer against the model's: the same refusal code, the same stored response, or a success the model accepts. */
const checkAgainstModel = (prediction: Prediction, exit: Result.Result<Executed<unknown>, ExecuteError>, where: string) => {
  const got = exit._tag === "Success"
    ? `${exit.success.replayed ? "replayed" : "ok"} ${JSON.stringify(exit.success.result)}`
    : `refused ${refusalCode(exit.failure)}`
  switch (prediction._tag) {
    case "Refused":
      if (exit._tag === "Failure" && refusalCode(exit.failure) === prediction.code) return
      throw new Error(`${where}: the model refuses with ${prediction.code}, the ledger answered ${got}`)
    case "Replayed":
      if (exit._tag === "Success" && exit.success.replayed && JSON.stringify(exit.success.result) === JSON.stringify(prediction.response)) return
      throw new Error(`${where}: the model replays ${JSON.stringify(prediction.response)}, the ledger answered ${got}`)
    case "Succeeds":
      if (exit._tag === "Failure" || exit.success.replayed) throw new Error(`${where}: the model expects a fresh success, the ledger answered ${got}`)
      try {
        prediction.accept(exit.success.result)
      } catch (e) {
        throw new Error(`${where}: ${(e as Error).message}`)
      }
  }
}

/** The store's books in the model's terms: wallets, non-empty stacks, system accounts. */
const booksOf = (s: Effect.Success<typeof snapshot>) => {
  const wallets = new Map<string, { balance: number; held: number }>()
  const stacks = new Map<string, number>()
  for (const v of s.objects.values()) {
    const o = v.value
    if (o?.kind === "wallet") wallets.set(o.accountId, { balance: o.balance, held: o.held })
    if (o?.kind === "stack" && o.balance !== 0) stacks.set(`${o.tableId}/${o.accountId}`, o.balance)
  }
  return { wallets, stacks, system: { mint: s.system.mint, burn: s.system.burn, rake: s.system.rake } }
}

const sortedJson = (books: ReturnType<typeof booksOf>) =>
  JSON.stringify([[...books.wallets].sort(), [...books.stacks].sort(), books.system])

/** A different request under the same key: same op, amount changed where there is one. */
const alteredRequest = (c: Command): Command | undefined =>
  "amount" in c && typeof c.amount === "number" ? ({ ...c, amount: c.amount === 1 ? 2 : c.amount - 1 } as Command) : undefined

/**
 * Runs the steps, checking every answer against the reference model (the
 * refusal code, the replayed response, the fields of a success) and, after
 * each step, the store's books against the model's; and after each: Σ
 * balances = 0, nothing negative, held = Σ HELD reservations; every success
 * with a key replays to the
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
    const model = new BooksModel((yield* LedgerSettings).rules)
    /** Executes `c` and checks the answer against the model's prediction. */
    const execute = (c: Command, where: string) =>
      Effect.gen(function*() {
        const prediction = model.predict(c, yield* Clock.currentTimeMillis)
        const exit = yield* Effect.result(ledger.execute(c))
        checkAgainstModel(prediction, exit, where)
        return exit
      })
    const booksMatch = (s: Effect.Success<typeof snapshot>, where: string) => {
      const ledgerBooks = sortedJson(booksOf(s))
      const modelBooks = sortedJson(model.books())
      if (ledgerBooks !== modelBooks) throw new Error(`${where}: the store's books ${ledgerBooks} are not the model's ${modelBooks}`)
    }
    const reservationIds: Array<string> = []
    const trace: Array<TraceLine> = []
    const reservations = () =>
      reservationIds.length === 0
        ? Effect.succeed(new Map<string, StoredObject | null>())
        : Effect.map(store.load(reservationIds.map(reservationKey)), (s) => new Map([...s.objects].map(([k, v]) => [k, v.value])))

    const settleContributors = (step: Extract<Step, { kind: "settleContributors" }>) =>
      // Read from the store, not through the ledger: choosing the winners must not warm the ledger's cache.
      Effect.map(snapshot, (s): Command => {
        const active = [...s.objects.values()].flatMap((v) => v.value?.kind === "pot" && v.value.status === "ACTIVE" ? [v.value] : [])
        const { tableId, handId } = active[step.index % Math.max(1, active.length)] ?? step
        const pot = { value: active.find((p) => p.tableId === tableId && p.handId === handId) ?? null }
        const rows = pot.value?.contributions ?? [{ seatId: 1, accountId: ACCOUNTS[0], amount: 0 }]
        const chosen = rows.filter((_, i) => (step.pick >> (i % 3)) & 1)
        const winners = (chosen.length > 0 ? chosen : rows.slice(0, 1)).map((row, i) => ({
          seatId: row.seatId,
          accountId: row.accountId,
          amount: step.whole ? (i === 0 ? pot.value?.balance ?? 0 : 0) : step.requests[i] ?? 0
        }))
        return { op: "Settle", tableId, handId, winners, idempotencyKey: step.idempotencyKey }
      })
    const fromStack = (step: Extract<Step, { kind: "fromStack" }>) =>
      Effect.map(snapshot, (s): Command => {
        const stacks = [...s.objects.values()].flatMap((v) => v.value?.kind === "stack" && v.value.balance > 0 ? [v.value] : [])
        const { accountId, tableId } = stacks[step.index % Math.max(1, stacks.length)] ?? step
        const stack = stacks.find((x) => x.accountId === accountId && x.tableId === tableId)?.balance ?? 0
        const amount = Math.max(1, Math.ceil((stack * step.percent) / 100))
        const { handId, idempotencyKey } = step
        return step.op === "Contribute"
          ? { op: "Contribute", tableId, handId, seatId: seatOf(accountId), accountId, amount, contributionType: "BET", idempotencyKey }
          : { op: "CashOut", accountId, tableId, seatId: seatOf(accountId), amount, idempotencyKey }
      })
    /** Every hand a contribution went to, settled and cancelled ones too (they leave the live index). */
    const handsPlayed: Array<{ readonly tableId: string; readonly handId: string }> = []
    const cancelPot = (step: Extract<Step, { kind: "cancelPot" }>) =>
      Effect.sync((): Command => {
        const { tableId, handId } = handsPlayed[step.index % Math.max(1, handsPlayed.length)] ?? step
        return { op: "Cancel", tableId, handId, reason: "misdeal" }
      })
    for (const [i, step] of steps.entries()) {
      if (step.kind === "tick") {
        yield* TestClock.adjust(step.ms)
        trace.push({ tick: step.ms })
        continue
      }
      const pick = (index: number) =>
        reservationIds.length === 0 || index === 8 ? "missing" : reservationIds[index % reservationIds.length]!
      const c: Command = step.kind === "settleContributors"
        ? yield* settleContributors(step)
        : step.kind === "fromStack"
        ? yield* fromStack(step)
        : step.kind === "cancelPot"
        ? yield* cancelPot(step)
        : step.kind === "command"
        ? step.command
        : step.kind === "buyIn"
        ? step.reserve
        : step.op === "Release"
        ? { op: "Release", reservationId: pick(step.index), reason: "test" }
        : { op: step.op, reservationId: pick(step.index) }
      const exit = yield* execute(c, `step ${i} (${c.op})`)
      if (c.op === "Contribute" && exit._tag === "Success" && !handsPlayed.some((h) => h.tableId === c.tableId && h.handId === c.handId)) {
        handsPlayed.push({ tableId: c.tableId, handId: c.handId })
      }
      if (exit._tag === "Success") {
        trace.push({ ok: exit.success.result, replayed: exit.success.replayed })
        const r = exit.success.result as { reservationId?: string }
        if (c.op === "Reserve" && r.reservationId && !reservationIds.includes(r.reservationId)) reservationIds.push(r.reservationId)
        if ("idempotencyKey" in c && c.idempotencyKey !== undefined) {
          const before = digest(yield* snapshot)
          // The model expects the stored response, then IDEMPOTENCY_KEY_REUSED for another request.
          yield* execute(c, `step ${i}: replay of ${c.op}`)
          const other = alteredRequest(c)
          if (other) yield* execute(other, `step ${i}: ${c.op}'s key with another request`)
          if (digest(yield* snapshot) !== before) throw new Error(`step ${i}: a replay or reused key changed state`)
        }
      } else {
        trace.push({ refused: refusalCode(exit.failure) })
      }
      const after = yield* snapshot
      assertInvariants(after, yield* reservations(), `step ${i} (${c.op})`)
      booksMatch(after, `step ${i} (${c.op})`)
      if (step.kind === "buyIn" && exit._tag === "Success") {
        const id = (exit.success.result as { reservationId: string }).reservationId
        const commit = yield* execute({ op: "Commit", reservationId: id }, `step ${i} (buy-in commit)`)
        trace.push(commit._tag === "Success" ? { ok: commit.success.result, replayed: false } : { refused: refusalCode(commit.failure) })
        const committed = yield* snapshot
        assertInvariants(committed, yield* reservations(), `step ${i} (buy-in commit)`)
        booksMatch(committed, `step ${i} (buy-in commit)`)
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

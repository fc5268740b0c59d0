import { assert, describe, it } from "@effect/vitest"
import { Cause, Context, Effect, Exit, Fiber, Layer } from "effect"
import { TestClock } from "effect/testing"
import { Ledger } from "../../src/ledger/Ledger.ts"
import { LedgerVerifier } from "../../src/ledger/LedgerVerifier.ts"
import { MemoryStore } from "../../src/store/memory/MemoryStore.ts"
import type { Plan } from "../../src/domain/plan.ts"
import { Metrics } from "../../src/observability/Metrics.ts"
import { StoreUnavailable } from "../../src/store/StoreErrors.ts"
import { Store } from "../../src/store/Store.ts"
import { type PotState, walletKey, type WalletState } from "../../src/domain/accounts.ts"
import { MAX_RESERVATION_TIMEOUT_MS } from "../../src/domain/rules.ts"
import { ledgerOn, memoryLedger } from "../support/ledgerLayers.ts"

/**
 * A memory store that records which account's chain each `entries` call read (one per walked chain),
 * and runs `beforeRead.current` (if set) just before each such read: a write landing mid-walk.
 */
const chainReadCounting = () => {
  const inner = MemoryStore.make()
  const reads: Array<string> = []
  const beforeRead: { current: ((account: string) => Effect.Effect<void>) | undefined } = { current: undefined }
  const layer = Layer.succeed(Store, Store.of({
    ...inner,
    entries: (account, afterSeq, limit) =>
      Effect.suspend(() => {
        reads.push(account)
        return Effect.andThen(beforeRead.current?.(account) ?? Effect.void, inner.entries(account, afterSeq, limit))
      })
  }))
  return { layer, reads, beforeRead }
}

/** A write straight into the store, past the planner: tampering as someone with Redis access could. */
const tamper = (parts: Partial<Plan>) =>
  Store.use((store) =>
    store.apply({
      plan: {
        expected: [], writes: [], entries: [], transfers: [], system: [], stats: [],
        expiryAdd: [], expiryRemove: [], newAccounts: [], closedAccounts: [], response: {},
        ...parts
      },
      responseJson: "{}",
      idempotency: null
    }))

const refusalCode = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.flip(effect).pipe(Effect.map((e) => (e as { code?: string; _tag: string }).code ?? (e as { _tag: string })._tag))

describe("Ledger (memory store)", () => {
  it.effect("buy-in, hand, settle and cash-out keep every chip accounted for", () =>
    Effect.gen(function*() {
      const ledger = yield* Ledger
      yield* ledger.execute({ op: "EnsureAccount", accountId: "alice", initialBalance: 1000 })
      yield* ledger.execute({ op: "EnsureAccount", accountId: "bob", initialBalance: 500 })
      const ra = yield* ledger.execute({ op: "Reserve", accountId: "alice", tableId: "t1", amount: 400, timeoutMs: 0, idempotencyKey: "ra" })
      const rb = yield* ledger.execute({ op: "Reserve", accountId: "bob", tableId: "t1", amount: 500, timeoutMs: 0, idempotencyKey: "rb" })
      assert.strictEqual(ra.result.availableBalance, 600)
      const ca = yield* ledger.execute({ op: "Commit", reservationId: ra.result.reservationId })
      assert.strictEqual(ca.result.newBalance, 600)
      const again = yield* ledger.execute({ op: "Commit", reservationId: ra.result.reservationId })
      assert.strictEqual(again.result.transactionId, ca.result.transactionId)
      yield* ledger.execute({ op: "Commit", reservationId: rb.result.reservationId })
      yield* ledger.execute({ op: "Contribute", tableId: "t1", handId: "h1", seatId: 1, accountId: "alice", amount: 300, contributionType: "BET", idempotencyKey: "c1" })
      const c2 = yield* ledger.execute({ op: "Contribute", tableId: "t1", handId: "h1", seatId: 2, accountId: "bob", amount: 500, contributionType: "ALL_IN", idempotencyKey: "c2" })
      assert.strictEqual(c2.result.totalPot, 800)
      const settled = yield* ledger.execute({ op: "Settle", tableId: "t1", handId: "h1", winners: [{ seatId: 2, accountId: "bob", amount: 800 }], idempotencyKey: "s1" })
      assert.strictEqual(settled.result.results[0]!.newBalance, 800)
      assert.strictEqual(yield* refusalCode(ledger.execute({ op: "Settle", tableId: "t1", handId: "h1", winners: [{ seatId: 2, accountId: "bob", amount: 800 }], idempotencyKey: "s2" })), "POT_NOT_ACTIVE")
      const out = yield* ledger.execute({ op: "CashOut", accountId: "bob", tableId: "t1", seatId: 2, amount: 800, idempotencyKey: "co" })
      assert.strictEqual(out.result.newBalance, 800)
      assert.strictEqual(yield* refusalCode(ledger.execute({ op: "CashOut", accountId: "alice", tableId: "t1", seatId: 1, amount: 101, idempotencyKey: "co2" })), "INSUFFICIENT_STACK")
      const report = yield* (yield* LedgerVerifier).verifyAll()
      assert.deepStrictEqual(report.findings, [])
      assert.strictEqual(report.totalBalance, 0)
    }).pipe(Effect.provide(memoryLedger())))

  it.effect("a commit after the deadline is refused before any sweep ran", () =>
    Effect.gen(function*() {
      const ledger = yield* Ledger
      yield* ledger.execute({ op: "EnsureAccount", accountId: "carol", initialBalance: 100 })
      const r = yield* ledger.execute({ op: "Reserve", accountId: "carol", tableId: "t9", amount: 100, timeoutMs: 1000, idempotencyKey: "r" })
      yield* TestClock.adjust("1001 millis")
      assert.strictEqual(yield* refusalCode(ledger.execute({ op: "Commit", reservationId: r.result.reservationId })), "RESERVATION_EXPIRED")
      const expired = yield* ledger.execute({ op: "Expire", reservationId: r.result.reservationId })
      assert.isTrue(expired.result.expired)
      assert.strictEqual(yield* refusalCode(ledger.execute({ op: "Commit", reservationId: r.result.reservationId })), "RESERVATION_NOT_HELD")
      const released = yield* ledger.execute({ op: "Release", reservationId: r.result.reservationId, reason: "late" })
      assert.strictEqual(released.result.availableBalance, 100)
    }).pipe(Effect.provide(memoryLedger())))

  it.effect("replays answer the first response; a reused key with another request is refused", () =>
    Effect.gen(function*() {
      const ledger = yield* Ledger
      yield* ledger.execute({ op: "EnsureAccount", accountId: "dave", initialBalance: 0 })
      const first = yield* ledger.execute({ op: "Deposit", accountId: "dave", amount: 50, source: "ADMIN", idempotencyKey: "d1" })
      const replay = yield* ledger.execute({ op: "Deposit", accountId: "dave", amount: 50, source: "ADMIN", idempotencyKey: "d1" })
      assert.isTrue(replay.replayed)
      assert.deepStrictEqual(replay.result, first.result)
      assert.strictEqual(yield* refusalCode(ledger.execute({ op: "Deposit", accountId: "dave", amount: 51, source: "ADMIN", idempotencyKey: "d1" })), "IDEMPOTENCY_KEY_REUSED")
      yield* ledger.execute({ op: "Withdraw", accountId: "dave", amount: 50, reason: "x", idempotencyKey: "w1" })
      // The state moved on (balance 0), yet a replay of the withdrawal still answers its original success.
      const wReplay = yield* ledger.execute({ op: "Withdraw", accountId: "dave", amount: 50, reason: "x", idempotencyKey: "w1" })
      assert.isTrue(wReplay.replayed)
      assert.strictEqual((yield* ledger.wallet("dave")).value!.balance, 0)
    }).pipe(Effect.provide(memoryLedger())))

  const seat = (ledger: Ledger["Service"], accountId: string, tableId: string, chips: number) =>
    Effect.gen(function*() {
      yield* ledger.execute({ op: "EnsureAccount", accountId, initialBalance: chips })
      const r = yield* ledger.execute({ op: "Reserve", accountId, tableId, amount: chips, timeoutMs: 0, idempotencyKey: `buy-${accountId}-${tableId}` })
      yield* ledger.execute({ op: "Commit", reservationId: r.result.reservationId })
    })

  it.effect("in a hand a seat belongs to one account and an account to one seat", () =>
    Effect.gen(function*() {
      const ledger = yield* Ledger
      yield* seat(ledger, "s1", "st", 500)
      yield* seat(ledger, "s2", "st", 500)
      const bet = (accountId: string, seatId: number, key: string) =>
        ledger.execute({ op: "Contribute", tableId: "st", handId: "h", seatId, accountId, amount: 10, contributionType: "BET", idempotencyKey: key })
      yield* bet("s1", 1, "b1")
      const taken = yield* Effect.flip(bet("s2", 1, "b2"))
      assert.deepInclude(taken, { code: "INVALID_SEAT_ID", field: "seatId" })
      assert.include(taken.message, "seat 1 is s1's")
      const moved = yield* Effect.flip(bet("s1", 2, "b3"))
      assert.deepInclude(moved, { code: "INVALID_SEAT_ID", field: "seatId" })
      yield* bet("s2", 2, "b4")
      yield* bet("s1", 1, "b5")
      const pot = (yield* ledger.pot("st", "h")).value!
      assert.deepStrictEqual(pot.contributions, [{ seatId: 1, accountId: "s1", amount: 20 }, { seatId: 2, accountId: "s2", amount: 10 }])
      assert.strictEqual((yield* ledger.stack("st", "s2")).value!.balance, 490, "the refused bet moved nothing")
    }).pipe(Effect.provide(memoryLedger())))

  it.effect("with the store hanging, commands queued behind each other on one wallet all answer UNAVAILABLE within one store budget", () =>
    Effect.gen(function*() {
      const memory = MemoryStore.make()
      let slow = false
      // As RedisStore behaves when Redis hangs: each apply gives up after its deadline and retries (3 s here).
      const store = Store.of({
        ...memory,
        apply: (request) =>
          slow
            ? Effect.andThen(Effect.sleep("3 seconds"), Effect.fail(new StoreUnavailable({ operation: "apply", reason: "no answer within 3000 ms" })))
            : memory.apply(request)
      })
      const ledger = Context.get(yield* Layer.build(ledgerOn(Layer.succeed(Store, store), { keyWaitMs: 2_500 })), Ledger)
      yield* ledger.execute({ op: "EnsureAccount", accountId: "pile", initialBalance: 100 })
      slow = true
      const fibers = yield* Effect.forEach([1, 2, 3, 4, 5], (i) =>
        Effect.forkChild(Effect.flip(ledger.execute({ op: "Withdraw", accountId: "pile", amount: 1, reason: "x", idempotencyKey: `pile-${i}` }))))
      yield* TestClock.adjust("3 seconds")
      yield* TestClock.adjust("1 millis")
      const errors = yield* Effect.forEach(fibers, (f) => Fiber.join(f))
      assert.deepStrictEqual(errors.map((e) => e._tag), ["StoreUnavailable", "StoreUnavailable", "StoreUnavailable", "StoreUnavailable", "StoreUnavailable"])
      assert.include((errors[4] as StoreUnavailable).reason, "behind other commands on the same account")
      slow = false
      assert.strictEqual((yield* ledger.wallet("pile")).value!.balance, 100, "nothing was written")
    }))

  it.effect("cancel refunds each contributor exactly what they put in", () =>
    Effect.gen(function*() {
      const ledger = yield* Ledger
      yield* seat(ledger, "p1", "t", 100)
      yield* seat(ledger, "p2", "t", 100)
      yield* ledger.execute({ op: "Contribute", tableId: "t", handId: "h", seatId: 1, accountId: "p1", amount: 10, contributionType: "BLIND", idempotencyKey: "1" })
      yield* ledger.execute({ op: "Contribute", tableId: "t", handId: "h", seatId: 2, accountId: "p2", amount: 20, contributionType: "BLIND", idempotencyKey: "2" })
      yield* ledger.execute({ op: "Contribute", tableId: "t", handId: "h", seatId: 1, accountId: "p1", amount: 10, contributionType: "CALL", idempotencyKey: "3" })
      const cancelled = yield* ledger.execute({ op: "Cancel", tableId: "t", handId: "h", reason: "misdeal" })
      assert.deepStrictEqual(cancelled.result.refunds, [
        { seatId: 1, accountId: "p1", amount: 20 },
        { seatId: 2, accountId: "p2", amount: 20 }
      ])
      assert.strictEqual((yield* ledger.stack("t", "p1")).value!.balance, 100)
      assert.strictEqual((yield* ledger.stack("t", "p2")).value!.balance, 100)
      const pot = (yield* ledger.pot("t", "h")).value!
      assert.strictEqual(pot.status, "CANCELLED")
      assert.strictEqual(pot.balance, 0)
      // Cancelling it again (a retry without a key) answers the same refunds and moves nothing.
      const potVersion = (yield* ledger.pot("t", "h")).version
      const again = yield* ledger.execute({ op: "Cancel", tableId: "t", handId: "h", reason: "again" })
      assert.deepStrictEqual(again.result.refunds, cancelled.result.refunds)
      assert.strictEqual((yield* ledger.stack("t", "p1")).value!.balance, 100)
      assert.strictEqual((yield* ledger.stack("t", "p2")).value!.balance, 100)
      assert.strictEqual((yield* ledger.pot("t", "h")).version, potVersion, "nothing written")
      // A keyed cancel is answered from its key first, even where the plan would need no write.
      yield* ledger.execute({ op: "Contribute", tableId: "t", handId: "h2", seatId: 1, accountId: "p1", amount: 5, contributionType: "BLIND", idempotencyKey: "5" })
      const keyed = yield* ledger.execute({ op: "Cancel", tableId: "t", handId: "h2", reason: "misdeal", idempotencyKey: "k-cancel" })
      assert.isFalse(keyed.replayed)
      const replay = yield* ledger.execute({ op: "Cancel", tableId: "t", handId: "h2", reason: "misdeal", idempotencyKey: "k-cancel" })
      assert.isTrue(replay.replayed, "the retry is the stored answer")
      assert.deepStrictEqual(replay.result, keyed.result)
      assert.strictEqual(
        yield* refusalCode(ledger.execute({ op: "Cancel", tableId: "t", handId: "h", reason: "misdeal", idempotencyKey: "k-cancel" })),
        "IDEMPOTENCY_KEY_REUSED",
        "the key of h2's cancel used for h's (already cancelled) pot"
      )
      assert.strictEqual(
        yield* refusalCode(ledger.execute({ op: "Contribute", tableId: "t", handId: "h", seatId: 1, accountId: "p1", amount: 1, contributionType: "BET", idempotencyKey: "4" })),
        "POT_NOT_ACTIVE"
      )
    }).pipe(Effect.provide(memoryLedger())))

  it.effect("settlement takes the rake and normalises requests that do not add up, odd chip to the lowest seat", () =>
    Effect.gen(function*() {
      const ledger = yield* Ledger
      yield* seat(ledger, "p1", "t", 1000)
      yield* seat(ledger, "p2", "t", 1000)
      yield* seat(ledger, "p3", "t", 1000)
      for (const [i, p] of ["p1", "p2", "p3"].entries()) {
        yield* ledger.execute({ op: "Contribute", tableId: "t", handId: "h", seatId: i + 1, accountId: p, amount: 101, contributionType: "BET", idempotencyKey: `c${i}` })
      }
      // pot 303, 5% = 15.15 -> 15, cap 30: 288 left for a split pot between seats 3 and 1, requested as if unraked
      const s = yield* ledger.execute({
        op: "Settle",
        tableId: "t",
        handId: "h",
        winners: [{ seatId: 3, accountId: "p3", amount: 151 }, { seatId: 1, accountId: "p1", amount: 152 }],
        idempotencyKey: "settle"
      })
      assert.strictEqual(s.result.rake, 15)
      assert.isTrue(s.result.normalised)
      assert.deepStrictEqual(s.result.results.map((r) => [r.accountId, r.amount, r.newBalance]), [["p3", 143, 1042], ["p1", 145, 1044]])
      const supply = yield* ledger.supply()
      assert.strictEqual(supply.system.rake, 15)
      assert.strictEqual(supply.stats.settlements_normalised, 1)
      assert.deepStrictEqual((yield* (yield* LedgerVerifier).verifyAll()).findings, [])
    }).pipe(Effect.provide(memoryLedger({ rules: { rake: { basisPoints: 500, capChips: 30, minPotChips: 0 }, reservationTimeoutMs: 30_000 } }))))

  it.effect("reservation lifecycle codes: release after commit, commit after release, unknown ids", () =>
    Effect.gen(function*() {
      const ledger = yield* Ledger
      yield* ledger.execute({ op: "EnsureAccount", accountId: "e", initialBalance: 300 })
      const r1 = yield* ledger.execute({ op: "Reserve", accountId: "e", tableId: "t", amount: 100, timeoutMs: 0, idempotencyKey: "r1" })
      yield* ledger.execute({ op: "Commit", reservationId: r1.result.reservationId })
      assert.strictEqual(yield* refusalCode(ledger.execute({ op: "Release", reservationId: r1.result.reservationId, reason: "x" })), "ALREADY_COMMITTED")
      const r2 = yield* ledger.execute({ op: "Reserve", accountId: "e", tableId: "t", amount: 100, timeoutMs: 0, idempotencyKey: "r2" })
      const rel = yield* ledger.execute({ op: "Release", reservationId: r2.result.reservationId, reason: "left" })
      assert.strictEqual(rel.result.availableBalance, 200)
      const rel2 = yield* ledger.execute({ op: "Release", reservationId: r2.result.reservationId, reason: "left" })
      assert.strictEqual(rel2.result.status, "RELEASED")
      assert.strictEqual(yield* refusalCode(ledger.execute({ op: "Commit", reservationId: r2.result.reservationId })), "RESERVATION_NOT_HELD")
      assert.strictEqual(yield* refusalCode(ledger.execute({ op: "Commit", reservationId: "nope" })), "RESERVATION_NOT_FOUND")
      assert.strictEqual(yield* refusalCode(ledger.execute({ op: "Release", reservationId: "nope", reason: "" })), "RESERVATION_NOT_FOUND")
      assert.strictEqual(
        yield* refusalCode(ledger.execute({ op: "Reserve", accountId: "e", tableId: "t", amount: 201, timeoutMs: 0, idempotencyKey: "r3" })),
        "INSUFFICIENT_BALANCE"
      )
      assert.strictEqual(
        yield* refusalCode(ledger.execute({ op: "Reserve", accountId: "ghost", tableId: "t", amount: 1, timeoutMs: 0, idempotencyKey: "r4" })),
        "ACCOUNT_NOT_FOUND"
      )
    }).pipe(Effect.provide(memoryLedger())))

  it.effect("a winner who put nothing into the pot is refused; keys are scoped per operation", () =>
    Effect.gen(function*() {
      const ledger = yield* Ledger
      yield* seat(ledger, "p1", "t", 100)
      yield* seat(ledger, "p2", "t", 100)
      yield* ledger.execute({ op: "Contribute", tableId: "t", handId: "h", seatId: 1, accountId: "p1", amount: 10, contributionType: "BET", idempotencyKey: "same" })
      assert.strictEqual(
        yield* refusalCode(ledger.execute({ op: "Settle", tableId: "t", handId: "h", winners: [{ seatId: 2, accountId: "p2", amount: 10 }], idempotencyKey: "s" })),
        "INVALID_WINNERS"
      )
      // The same client key on another operation is another request, not a reuse.
      const cashOut = yield* ledger.execute({ op: "CashOut", accountId: "p2", tableId: "t", seatId: 2, amount: 100, idempotencyKey: "same" })
      assert.isFalse(cashOut.replayed)
      assert.strictEqual(cashOut.result.newBalance, 100)
    }).pipe(Effect.provide(memoryLedger())))

  it.effect("verification (full and incremental) while chips keep moving reports nothing false", () =>
    Effect.gen(function*() {
      const ledger = yield* Ledger
      const verifier = yield* LedgerVerifier
      for (const p of ["m1", "m2", "m3"]) yield* seat(ledger, p, "busy", 1_000)
      let running = true
      const mover = Effect.gen(function*() {
        for (let i = 0; running; i++) {
          const p = ["m1", "m2", "m3"][i % 3]!
          yield* ledger.execute({ op: "Contribute", tableId: "busy", handId: `h${Math.floor(i / 3)}`, seatId: (i % 3) + 1, accountId: p, amount: 1, contributionType: "BET", idempotencyKey: `c${i}` })
          if (i % 3 === 2) {
            yield* ledger.execute({ op: "Settle", tableId: "busy", handId: `h${Math.floor(i / 3)}`, winners: [{ seatId: 1, accountId: "m1", amount: 3 }], idempotencyKey: `s${i}` })
          }
          yield* Effect.yieldNow
        }
      })
      const fiber = yield* Effect.forkChild(mover)
      const reports = []
      for (let k = 0; k < 20; k++) reports.push(yield* (k % 2 === 0 ? verifier.verifyAll() : verifier.verifyIncremental()))
      running = false
      yield* Fiber.join(fiber)
      for (const r of reports) {
        // No finding at all: neither a false zero-sum violation nor a head that only looked stale mid-write.
        assert.deepStrictEqual(r.findings.map((f) => `${f.kind} ${f.account} ${f.detail}`), [], r.mode)
        assert.isTrue(r.totalBalance === null || r.totalBalance === 0)
      }
      const quiet = yield* verifier.verifyAll()
      assert.strictEqual(quiet.totalBalance, 0)
      assert.isTrue(quiet.ok)
    }).pipe(Effect.provide(memoryLedger())))

  it.effect("the incremental pass walks only chains whose head moved, and still checks every head", () => {
    const { layer: counted, reads } = chainReadCounting()
    return Effect.gen(function*() {
      const ledger = yield* Ledger
      const verifier = yield* LedgerVerifier
      const store = yield* Store
      for (const id of ["inc-a", "inc-b", "inc-c"]) yield* ledger.execute({ op: "EnsureAccount", accountId: id, initialBalance: 100 })
      const full = yield* verifier.verifyAll()
      assert.isTrue(full.ok)
      assert.strictEqual(full.entriesChecked, 3)

      reads.length = 0
      const idle = yield* verifier.verifyIncremental()
      assert.deepInclude(idle, { ok: true, accountsChecked: 3, entriesChecked: 0, totalBalance: 0 })
      assert.deepStrictEqual(reads, [], "no chain moved: none is read")

      yield* ledger.execute({ op: "Deposit", accountId: "inc-b", amount: 5, source: "PROMO", idempotencyKey: "inc-d1" })
      const moved = yield* verifier.verifyIncremental()
      assert.deepInclude(moved, { ok: true, accountsChecked: 3, entriesChecked: 1 })
      assert.deepStrictEqual(reads, [walletKey("inc-b")], "only inc-b's chain is read")

      // A head changed behind the ledger's back, without an entry: the chain did not move, the head did.
      const key = walletKey("inc-c")
      const head = (yield* store.load([key])).objects.get(key)!
      const forged = { ...(head.value as WalletState), balance: 1_000 }
      const applied = yield* tamper({ expected: [{ key, version: head.version }], writes: [{ key, version: head.version + 1, value: forged }] })
      assert.strictEqual(applied._tag, "Applied")
      const tampered = yield* verifier.verifyIncremental()
      assert.isFalse(tampered.ok)
      assert.deepStrictEqual(tampered.findings.filter((f) => f.kind === "HEAD_MISMATCH").map((f) => f.account), [key])
      // Every pass is counted, whoever asked for it (the job, or an admin over HTTP for one account).
      const checked = yield* verifier.verifyAccount(key)
      assert.isFalse(checked.ok)
      const { registry } = yield* Metrics
      const sampleOf = (name: string, labels: Record<string, string>) =>
        Effect.promise(async () => {
          const metric = await registry.getSingleMetric(name)!.get()
          return metric.values.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))?.value ?? 0
        })
      assert.strictEqual(yield* sampleOf("balance_ledger_verification_runs_total", { mode: "incremental", result: "findings" }), 1)
      assert.strictEqual(yield* sampleOf("balance_ledger_verification_runs_total", { mode: "account", result: "findings" }), 1)
      assert.strictEqual(yield* sampleOf("balance_ledger_verification_failures_total", { kind: "HEAD_MISMATCH" }),
        [...tampered.findings, ...checked.findings].filter((f) => f.kind === "HEAD_MISMATCH").length
      )
    }).pipe(Effect.provide(ledgerOn(counted)))
  })

  it.effect("a write landing between the head read and the chain read is no finding; an entry appended behind the head is", () => {
    const { layer: counted, beforeRead } = chainReadCounting()
    return Effect.gen(function*() {
      const ledger = yield* Ledger
      const verifier = yield* LedgerVerifier
      const store = yield* Store
      yield* ledger.execute({ op: "EnsureAccount", accountId: "race", initialBalance: 100 })
      assert.isTrue((yield* verifier.verifyAll()).ok)
      // Every chain read is preceded by a deposit: the chain is always ahead of the head the walk began with.
      let n = 0
      beforeRead.current = (account) =>
        account === walletKey("race")
          ? Effect.asVoid(Effect.orDie(ledger.execute({ op: "Deposit", accountId: "race", amount: 1, source: "PROMO", idempotencyKey: `race-${n++}` })))
          : Effect.void
      for (const report of [yield* verifier.verifyIncremental(), yield* verifier.verifyAll(), yield* verifier.verifyIncremental()]) {
        assert.deepStrictEqual(report.findings.map((f) => `${f.kind} ${f.account} ${f.detail}`), [], report.mode)
      }
      assert.isAtLeast(n, 3)
      beforeRead.current = undefined

      // An entry written after the last one without moving the head: the head, read again, has not moved.
      const key = walletKey("race")
      const last = (yield* store.entries(key, n, 10))[0]!
      const extra = { ...last, entryId: "forged", seq: last.seq + 1, previousChecksum: last.checksum }
      yield* tamper({ entries: [extra] })
      for (const report of [yield* verifier.verifyIncremental(), yield* verifier.verifyAll()]) {
        assert.isFalse(report.ok, report.mode)
        assert.include(report.findings.map((f) => `${f.kind} ${f.account}`), `HEAD_MISMATCH ${key}`, report.mode)
      }
    }).pipe(Effect.provide(ledgerOn(counted)))
  })

  it.effect("the incremental pass reads a settled pot's chain until a complete pass began after it closed, then never again; the full pass still checks it", () => {
    const { layer: counted, reads } = chainReadCounting()
    return Effect.gen(function*() {
      const ledger = yield* Ledger
      const verifier = yield* LedgerVerifier
      const store = yield* Store
      yield* seat(ledger, "fp", "tf", 100)
      yield* ledger.execute({ op: "Contribute", tableId: "tf", handId: "h1", seatId: 1, accountId: "fp", amount: 10, contributionType: "BET", idempotencyKey: "fp-c" })
      yield* ledger.execute({ op: "Settle", tableId: "tf", handId: "h1", winners: [{ seatId: 1, accountId: "fp", amount: 10 }], idempotencyKey: "fp-s" })
      const pot = "p:tf:h1"
      const passReads = Effect.gen(function*() {
        reads.length = 0
        const report = yield* verifier.verifyIncremental()
        assert.isTrue(report.ok, JSON.stringify(report.findings))
        return reads.filter((a) => a === pot).length
      })
      assert.strictEqual(yield* passReads, 1, "first pass after start: every chain")
      yield* TestClock.adjust("2 minutes")
      assert.strictEqual(yield* passReads, 1, "closed within the margin before the last pass: read again")
      yield* TestClock.adjust("2 minutes")
      assert.strictEqual(yield* passReads, 0, "closed well before the last complete pass: not read again")
      const full = yield* verifier.verifyAll()
      assert.isTrue(full.ok)
      assert.isAtLeast(reads.filter((a) => a === pot).length, 1, "the full pass still reads it")
      assert.deepStrictEqual((yield* store.accounts(null, 10)).items, ["s:tf:fp", "w:fp"], "closed pots leave the live index")

      // Chips planted in the long-closed pot, head and all: only the full pass still looks there.
      const head = (yield* store.load([pot])).objects.get(pot)!
      const planted = yield* tamper({
        expected: [{ key: pot, version: head.version }],
        writes: [{ key: pot, version: head.version + 1, value: { ...(head.value as PotState), balance: 7 } }]
      })
      assert.strictEqual(planted._tag, "Applied")
      assert.isTrue((yield* verifier.verifyIncremental()).ok)
      const found = yield* verifier.verifyAll()
      assert.deepStrictEqual(found.findings.map((f) => `${f.kind} ${f.account}`).sort(), [
        `HEAD_MISMATCH ${pot}`,
        "ZERO_SUM_VIOLATION *"
      ])
    }).pipe(Effect.provide(ledgerOn(counted)))
  })

  it.effect("a reservation and its wallet read in two round trips with another instance's commit between them: a clean refusal, no defect", () =>
    Effect.gen(function*() {
      const shared = MemoryStore.make()
      // Runs once, right after the next load of instance B returns: another instance's write lands there.
      let afterNextLoad: Effect.Effect<void> | undefined
      const hooked = Store.of({
        ...shared,
        load: (keys, idempotencyKey) =>
          Effect.tap(shared.load(keys, idempotencyKey), () => {
            const write = afterNextLoad
            afterNextLoad = undefined
            return write ?? Effect.void
          })
      })
      const a = Context.get(yield* Layer.build(ledgerOn(Layer.succeed(Store, shared))), Ledger)
      const b = Context.get(yield* Layer.build(ledgerOn(Layer.succeed(Store, hooked))), Ledger)
      yield* a.execute({ op: "EnsureAccount", accountId: "cold", initialBalance: 2_000 })
      for (const [i, late] of [["1", "Release"], ["2", "Expire"]] as const) {
        const hold = yield* a.execute({ op: "Reserve", accountId: "cold", tableId: `ct${i}`, amount: 600, timeoutMs: 0, idempotencyKey: `cold-${i}` })
        const reservationId = hold.result.reservationId
        // B (which never saw the reservation) reads it HELD; A commits it; B then reads the wallet.
        afterNextLoad = Effect.asVoid(Effect.orDie(a.execute({ op: "Commit", reservationId })))
        const command = late === "Release"
          ? { op: "Release" as const, reservationId, reason: "left" }
          : { op: "Expire" as const, reservationId }
        const exit = yield* Effect.exit(b.execute(command))
        if (late === "Release") {
          assert.isTrue(Exit.isFailure(exit) && !Cause.hasDies(exit.cause), String(exit))
          assert.strictEqual(yield* refusalCode(b.execute(command)), "ALREADY_COMMITTED")
        } else {
          assert.isTrue(Exit.isSuccess(exit) && (exit.value.result as { expired: boolean }).expired === false, String(exit))
        }
        assert.strictEqual(afterNextLoad, undefined, "the commit ran between B's reads")
      }
      const wallet = (yield* b.wallet("cold")).value!
      assert.deepInclude(wallet, { balance: 800, held: 0 }, "both buy-ins committed, nothing released or expired")
    }))

  it.effect("an instance whose cached wallet missed another instance's hold re-reads instead of failing", () =>
    Effect.gen(function*() {
      const shared = Layer.succeed(Store, MemoryStore.make())
      const one = yield* Layer.build(ledgerOn(shared))
      const two = yield* Layer.build(ledgerOn(shared))
      const first = Context.get(one, Ledger)
      const second = Context.get(two, Ledger)
      yield* first.execute({ op: "EnsureAccount", accountId: "split", initialBalance: 100 }) // cached by `first`: held 0
      const r = yield* second.execute({ op: "Reserve", accountId: "split", tableId: "t", amount: 30, timeoutMs: 0, idempotencyKey: "r" })
      const commit = yield* first.execute({ op: "Commit", reservationId: r.result.reservationId })
      assert.strictEqual(commit.result.newBalance, 70)
      assert.deepStrictEqual((yield* Effect.provideContext(LedgerVerifier.use((v) => v.verifyAll()), one)).findings, [])
    }))

  it.effect("a refusal planned from cache is answered as it stands when the request alone decided it, and read again when state could change it", () =>
    Effect.gen(function*() {
      const shared = MemoryStore.make()
      const loads: Array<ReadonlyArray<string>> = []
      const counted = Store.of({ ...shared, load: (keys, key) => Effect.suspend(() => (loads.push(keys), shared.load(keys, key))) })
      const a = Context.get(yield* Layer.build(ledgerOn(Layer.succeed(Store, shared))), Ledger)
      const b = Context.get(yield* Layer.build(ledgerOn(Layer.succeed(Store, counted))), Ledger)
      yield* b.execute({ op: "EnsureAccount", accountId: "cached", initialBalance: 100 }) // b caches the wallet
      loads.length = 0
      const tooLong = { op: "Reserve" as const, accountId: "cached", tableId: "t", amount: 10, timeoutMs: MAX_RESERVATION_TIMEOUT_MS + 1, idempotencyKey: "long" }
      assert.strictEqual(yield* refusalCode(b.execute(tooLong)), "INVALID_TIMEOUT")
      assert.deepStrictEqual(loads, [], "INVALID_TIMEOUT is not transient: no read")
      // Another instance deposits; b's cache still says 100, so b's plan refuses, and reading again turns it into a success.
      yield* a.execute({ op: "Deposit", accountId: "cached", amount: 400, source: "s", idempotencyKey: "d" })
      const r = yield* b.execute({ op: "Reserve", accountId: "cached", tableId: "t", amount: 300, timeoutMs: 0, idempotencyKey: "big" })
      assert.strictEqual(r.result.availableBalance, 200)
      assert.deepStrictEqual(loads, [[walletKey("cached")]], "INSUFFICIENT_BALANCE is transient: one read")
    }))
})

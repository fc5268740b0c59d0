import { Cause, Clock, Context, Effect, Layer, Random } from "effect"
import {
  ABSENT,
  isArchivedPot,
  isClosed,
  keyKind,
  type AccountRef,
  potKey,
  type PotState,
  reservationKey,
  type ReservationState,
  stackKey,
  type StackState,
  type SystemAccount,
  type Versioned,
  walletKey,
  type WalletState
} from "../domain/accounts.ts"
import { type Command, idempotencyKeyOf } from "../domain/commands.ts"
import { type Refusal, REFUSALS, refuse } from "../domain/errors.ts"
import type { LedgerEntry } from "../domain/ledgerEntry.ts"
import type { Inconsistent, Plan, StatName } from "../domain/plan.ts"
import { keysFor, keysOpenedBy, missingKeys, plan } from "../domain/planner.ts"
import type { ResultByOp } from "../domain/responses.ts"
import type { Transfer } from "../domain/transfer.ts"
import { type IdempotencyRecord, type Page, Store, type StoreEvent } from "../store/Store.ts"
import { StoreUnavailable } from "../store/StoreErrors.ts"
import { fingerprint, sameFingerprint } from "../domain/fingerprint.ts"
import { makeKeyedLock } from "./KeyedLock.ts"
import { type Answer, type Failure, next, type PlanBasis, type PlanVerdict, type RecordSeen, start } from "./commandSteps.ts"
import { LedgerContention } from "./LedgerErrors.ts"
import { LedgerSettings } from "./LedgerSettings.ts"
import { ObjectCache } from "./ObjectCache.ts"
import { Metrics, type StoreOperation, tallyOf } from "../observability/Metrics.ts"
import { withSpanWhenExported } from "../observability/Tracing.ts"

export interface Executed<R> {
  readonly result: R
  /** True when this answer is the stored response of an earlier call with the same idempotency key. */
  readonly replayed: boolean
}

export interface Observed<T> {
  readonly value: T | null
  readonly version: number
  /** True when the store did not answer and this is the last state this process saw. */
  readonly stale: boolean
}

export type ExecuteError = Refusal | StoreUnavailable | LedgerContention

export interface Supply {
  readonly system: Readonly<Record<SystemAccount, number>>
  readonly stats: Readonly<Partial<Record<StatName, number>>>
}

/**
 * Executes commands: plan from cached state, apply once, re-plan on version
 * conflicts; answers idempotent replays; and reads what the ledger holds.
 */
export class Ledger extends Context.Service<Ledger, {
  readonly execute: <C extends Command>(command: C) => Effect.Effect<Executed<ResultByOp[C["op"]]>, ExecuteError>
  readonly wallet: (accountId: string) => Effect.Effect<Observed<WalletState>, StoreUnavailable>
  readonly stack: (tableId: string, accountId: string) => Effect.Effect<Observed<StackState>, StoreUnavailable>
  readonly pot: (tableId: string, handId: string) => Effect.Effect<Observed<PotState>, StoreUnavailable>
  readonly reservation: (reservationId: string) => Effect.Effect<Observed<ReservationState>, StoreUnavailable>
  readonly entries: Store["Service"]["entries"]
  readonly transfers: Store["Service"]["transfers"]
  readonly events: Store["Service"]["events"]
  readonly accounts: Store["Service"]["accounts"]
  readonly supply: () => Effect.Effect<Supply, StoreUnavailable>
}>()("balance/Ledger") {
  static readonly layer = Layer.effect(Ledger, Effect.gen(function*() {
    const rawStore = yield* Store
    const settings = yield* LedgerSettings
    const metrics = yield* Metrics
    /** One label object per operation, made once: the call path does not build one per store call. */
    const operationLabels = { load: { operation: "load" }, apply: { operation: "apply" } } as const
    /** The label objects of the per-command counters, made once per operation, not on every call. */
    const commandLabels = new Map<string, {
      readonly operation: { readonly operation: string }
      /** balance_ledger_commands_total by outcome: one tally each (see tallyOf). */
      readonly byOutcome: Map<string, () => void>
    }>()
    const labelsOf = (operation: string) => {
      let labels = commandLabels.get(operation)
      if (labels === undefined) {
        labels = { operation: { operation }, byOutcome: new Map() }
        commandLabels.set(operation, labels)
      }
      return labels
    }
    const countCommand = (operation: string, outcome: string) => {
      const { byOutcome } = labelsOf(operation)
      let count = byOutcome.get(outcome)
      if (count === undefined) {
        count = tallyOf(metrics.commands, { operation, outcome })
        byOutcome.set(outcome, count)
      }
      count()
    }
    /**
     * Store calls on the request path, timed (each is one round trip) and traced as `Store.<operation>`
     * whatever the store (when spans are exported: see withSpanWhenExported).
     */
    const timed = <A, E>(operation: StoreOperation, effect: Effect.Effect<A, E>): Effect.Effect<A, E> =>
      withSpanWhenExported(
        Effect.suspend(() => {
          const started = performance.now()
          return Effect.onExit(effect, (exit) =>
            Effect.sync(() => {
              metrics.storeDuration.observe(operationLabels[operation], (performance.now() - started) / 1e3)
              if (exit._tag === "Failure" && Cause.hasFails(exit.cause)) metrics.storeErrors.inc(operationLabels[operation])
            }))
        }),
        `Store.${operation}`,
        () => ({ kind: "client", attributes: { "db.operation.name": operation } })
      )
    const store = {
      ...rawStore,
      load: (keys: ReadonlyArray<string>, idempotencyKey?: string, opens?: ReadonlyArray<string>) =>
        timed("load", rawStore.load(keys, idempotencyKey, opens)),
      apply: (request: Parameters<typeof rawStore.apply>[0]) => timed("apply", rawStore.apply(request))
    }
    const cache = new ObjectCache(settings.cacheMaxObjects)
    const withKeyLock = makeKeyedLock()

    /** Keys whose absence is the common case (a new pot, a first stack at a table): assume absent, apply verifies. */
    const assumeAbsentWhenUnseen = (key: string) => {
      const kind = keyKind(key)
      return kind === "pot" || kind === "stack"
    }

    const lockKeyOf = (c: Command): string => {
      switch (c.op) {
        case "EnsureAccount":
        case "Deposit":
        case "Withdraw":
        case "Reserve":
        case "CashOut":
          return walletKey(c.accountId)
        case "Commit":
        case "Release":
        case "Expire": {
          const r = cache.get(reservationKey(c.reservationId))?.value as ReservationState | null | undefined
          return r ? walletKey(r.accountId) : reservationKey(c.reservationId)
        }
        case "Contribute":
        case "Settle":
        case "Cancel":
          return potKey(c.tableId, c.handId)
      }
    }

    /**
     * Carries out the steps that commandSteps.ts decides, one command at a time: the working state
     * (what this command knows, and which of it came fresh from which read) lives here; every
     * decision (read again, re-plan, apply, answer, give up) is made there.
     */
    const run = Effect.fnUntraced(function*<C extends Command>(command: C) {
      type R = ResultByOp[C["op"]]
      // Keys are scoped per operation: a game that reuses "hand-7:seat-2" for a bet and a cash-out means two requests.
      const clientKey = idempotencyKeyOf(command)
      const idempotencyKey = clientKey === undefined ? undefined : `${command.op}:${clientKey}`
      const requestFingerprint = idempotencyKey ? fingerprint(command) : ""
      const state = new Map<string, Versioned>()
      /** Keys read from the store during this command, each with the number of the read that brought it. */
      const freshKeys = new Map<string, number>()
      let reads = 0
      /** The last plan made, and the stored response a read or apply found. */
      let planned: ReturnType<typeof plan<C>> | undefined
      let storedResponse = ""
      let overflowAccount = ""

      const remember = (objects: ReadonlyMap<string, Versioned>) => {
        reads += 1
        for (const [k, v] of objects) {
          state.set(k, v)
          freshKeys.set(k, reads)
          cache.set(k, v)
        }
      }
      /**
       * Every key came from one read: a state the store really had at one instant. Keys read one
       * after the other (a reservation, then its wallet) may straddle another instance's write.
       */
      const oneSnapshot = (keys: ReadonlyArray<string>) => {
        const first = freshKeys.get(keys[0] ?? "")
        return first !== undefined && keys.every((k) => freshKeys.get(k) === first)
      }
      /** A replay means an earlier write we did not see: what we cached for this command is stale. */
      const forgetUnverified = () => {
        for (const key of state.keys()) if (!freshKeys.has(key)) cache.delete(key)
      }
      /** One read of `keys`, with the key's record if asked; what it said about the key. */
      const read = (keys: ReadonlyArray<string>, askKey: boolean): Effect.Effect<RecordSeen, StoreUnavailable> => {
        const asked = askKey && idempotencyKey !== undefined
        return Effect.map(store.load(keys, asked ? idempotencyKey : undefined, keysOpenedBy(command)), (snapshot): RecordSeen => {
          remember(snapshot.objects)
          if (!asked) return "notAsked"
          const record = snapshot.idempotency
          if (!record) return "none"
          if (!sameFingerprint(record.fingerprint, requestFingerprint)) return "otherRequest"
          storedResponse = record.response
          return "sameRequest"
        })
      }
      /**
       * Fills `state` with what the cache (or an assumed absence) can give of the keys the command
       * needs; the keys left to read, none when it is complete.
       */
      const fillFromCache = (): ReadonlyArray<string> => {
        for (;;) {
          const missing = missingKeys(command, state)
          if (missing.length === 0) return missing
          const toLoad: Array<string> = []
          for (const key of missing) {
            const cached = cache.get(key)
            if (cached) state.set(key, cached)
            else if (assumeAbsentWhenUnseen(key)) state.set(key, ABSENT)
            else toLoad.push(key)
          }
          if (toLoad.length > 0) return toLoad
        }
      }
      /**
       * Fills `state` with every key the command needs: cache first, assumed absent, then reads of `toLoad`
       * (what fillFromCache left) and of whatever the keys read show to be needed too.
       */
      const fill = (toLoad: ReadonlyArray<string>, askKey: boolean, record: RecordSeen = "notAsked"): Effect.Effect<RecordSeen, StoreUnavailable> =>
        toLoad.length === 0
          ? Effect.succeed(record)
          // Only the first read asks about the key; a stored success or a reused key answers at once.
          : Effect.flatMap(read(toLoad, askKey && record === "notAsked"), (seen) => {
            const now: RecordSeen = seen !== "notAsked" ? seen : record
            return seen === "sameRequest" || seen === "otherRequest" ? Effect.succeed(now) : fill(fillFromCache(), askKey, now)
          })
      const planNow = Effect.map(Clock.currentTimeMillis, (now) => {
        // Only a plan from one snapshot may end the command with a refusal or count as corrupt state.
        const basis: PlanBasis = oneSnapshot(keysFor(command, state)) ? "snapshot" : "cache"
        planned = plan(command, state, { now, newId: settings.newId, hmacKey: settings.hmacKey }, settings.rules)
        const verdict: PlanVerdict = planned._tag === "Refusal"
          ? { _tag: "Refusal", code: planned.code }
          : planned._tag === "Plan" ? { _tag: "Plan" } : planned._tag === "NoChange" ? { _tag: "NoChange" } : { _tag: "Inconsistent" }
        return { _tag: "Planned", basis, verdict } as const
      })
      const applyPlan = (p: Plan) =>
        Effect.map(store.apply({
          plan: p,
          responseJson: JSON.stringify(p.response),
          idempotency: idempotencyKey
            ? { key: idempotencyKey, fingerprint: requestFingerprint, ttlMs: settings.idempotencyTtlMs }
            : null
        }), (result) => {
          if (result._tag === "Conflict") {
            metrics.conflictRetries.inc(labelsOf(command.op).operation)
            remember(result.current)
          }
          if (result._tag === "Replayed") storedResponse = result.response
          if (result._tag === "Overflow") overflowAccount = result.account
          if (result._tag === "Applied") {
            for (const w of p.writes) {
              // Closed objects (one per hand, one per buy-in) are not cached: they would fill the cache
              // with the game's history (the soak benchmark saw RSS grow by a third in 5 minutes); a
              // late call about one reads it back, and apply's version check covers a plan made without it.
              if (isClosed(w.value)) cache.delete(w.key)
              else cache.set(w.key, { version: w.version, value: w.value })
            }
          }
          return { _tag: "ApplyDone", result: result._tag } as const
        })
      const planOf = (): Plan<R> => (planned as { readonly plan: Plan<R> }).plan

      /**
       * Answers that no apply of ours just confirmed (a stored replay, a repeated commit) wait for
       * replicas too: the write they report may be the one whose acknowledgement failed earlier.
       */
      const confirmed = (executed: Executed<R>) => Effect.as(store.awaitReplication(), executed)
      const replayed = (): Executed<R> => {
        metrics.idempotentReplays.inc(labelsOf(command.op).operation)
        forgetUnverified()
        return { result: JSON.parse(storedResponse) as R, replayed: true }
      }
      const answer = (a: Answer): Effect.Effect<Executed<R>, StoreUnavailable> => {
        switch (a) {
          case "Applied":
            return Effect.succeed({ result: planOf().response, replayed: false })
          case "Unchanged":
            return confirmed({ result: (planned as { readonly response: R }).response, replayed: false })
          case "ReplayedByRead":
            return Effect.suspend(() => confirmed(replayed()))
          case "ReplayedByApply":
            return Effect.sync(replayed)
        }
      }
      const fail = (f: Failure, attempts: number): Effect.Effect<never, Refusal | LedgerContention> => {
        switch (f) {
          case "Refusal":
            return Effect.fail(planned as Refusal)
          case "KeyReused":
            return Effect.fail(refuse("IDEMPOTENCY_KEY_REUSED", "this idempotency key was used for a different request", "idempotencyKey"))
          case "Overflow":
            return Effect.fail(refuse("AMOUNT_OVERFLOW", `the ${overflowAccount} account would leave the safe integer range`))
          case "Contention":
            return Effect.fail(new LedgerContention({ attempts }))
          case "CorruptState":
            return Effect.die(new Error(`the store's state contradicts itself: ${(planned as Inconsistent).reason}`))
        }
      }

      let progress = start(idempotencyKey !== undefined, settings.conflictRetries)
      for (;;) {
        const step = progress.step
        switch (step._tag) {
          case "Answer":
            // The usual answer is a value at hand: returned without a fiber step.
            if (step.answer === "Applied") return { result: planOf().response, replayed: false }
            return yield* answer(step.answer)
          case "Fail":
            return yield* fail(step.failure, progress.maxAttempts)
          case "Fill": {
            if (step.pause) yield* Effect.sleep(Math.floor((yield* Random.next) * 4))
            // Usually every key is cached: then no read, and no fiber step for it.
            const toLoad = fillFromCache()
            progress = next(progress, { _tag: "Filled", record: toLoad.length === 0 ? "notAsked" : yield* fill(toLoad, step.askKey) })
            break
          }
          case "Plan":
            progress = next(progress, yield* planNow)
            break
          case "ReadAgain":
            progress = next(progress, { _tag: "ReadAgainDone", record: yield* read(keysFor(command, state), step.askKey) })
            break
          case "Apply":
            progress = next(progress, yield* applyPlan(planOf()))
            break
        }
      }
    })

    const outcomeOf = (e: ExecuteError) =>
      e._tag === "Refusal" ? e.code : e._tag === "StoreUnavailable" ? "unavailable" : "contention"
    const execute = <C extends Command>(command: C) =>
      // No stack capture (withSpanWhenExported): the frame would always be this function, and it was the hottest Effect frame of a call.
      // Data-first calls, not pipe: the curried forms of Effect's duals cost an arguments copy per call.
      withSpanWhenExported(
        Effect.onExit(
          withKeyLock(lockKeyOf(command), run(command), settings.keyWaitMs, (waitedMs) =>
            new StoreUnavailable({
              operation: "apply",
              reason: `waited ${waitedMs} ms behind other commands on the same account (the store is slow or down); nothing was written`
            })),
          (exit) =>
            Effect.sync(() => {
              if (exit._tag === "Success") {
                countCommand(command.op, exit.value.replayed ? "replayed" : "ok")
              } else {
                const error = Cause.findErrorOption(exit.cause)
                if (error._tag === "Some") countCommand(command.op, outcomeOf(error.value))
              }
            })
        ),
        `Ledger.execute.${command.op}`,
        () => ({ attributes: { "ledger.op": command.op } })
      )

    /** Reads one object from the store; when the store is down, the last state seen here, marked stale. */
    const observe = <T extends WalletState | StackState | PotState | ReservationState>(
      object: T["kind"],
      key: string
    ): Effect.Effect<Observed<T>, StoreUnavailable> => {
      const loaded: Effect.Effect<Observed<T>, StoreUnavailable> = Effect.map(store.load([key]), (snapshot) => {
        const v = snapshot.objects.get(key) ?? ABSENT
        cache.set(key, v)
        return { value: v.value as T | null, version: v.version, stale: false }
      })
      return Effect.catchTag(loaded, "StoreUnavailable", (error) => {
        const cached = cache.get(key)
        if (cached) metrics.staleReads.inc({ object })
        return cached
          ? Effect.succeed<Observed<T>>({ value: cached.value as T | null, version: cached.version, stale: true })
          : Effect.fail(error)
      })
    }

    /**
     * A pot as GetPot and the admin route show it: a settled pot Redis keeps as a marker (its
     * contributions archived: PotState.archived) is answered whole from the history store, at the
     * version Redis holds, so the answer is the same before and after archiving. PostgreSQL down:
     * StoreUnavailable, as every read that needs the archive.
     */
    const pot = (tableId: string, handId: string) => {
      const key = potKey(tableId, handId)
      return Effect.flatMap(observe<PotState>("pot", key), (observed) =>
        !isArchivedPot(observed.value)
          ? Effect.succeed(observed)
          : Effect.flatMap(store.archivedObject(key), (full) =>
            full?.kind !== "pot" || full.archived === true
              ? Effect.fail(
                new StoreUnavailable({
                  operation: "archivedObject",
                  reason: `pot ${key} is archived: its contributions are in the history store, which ${
                    full === null ? "does not hold it (or is not read by this instance)" : "holds no full pot for it"
                  }`
                })
              )
              : Effect.succeed<Observed<PotState>>({ ...observed, value: full })))
    }

    // The per-call reads' spans, without Effect.fn's stack capture per call (GetBalance is a hot path too), when exported.
    return Ledger.of({
      execute,
      wallet: (accountId) => withSpanWhenExported(observe<WalletState>("wallet", walletKey(accountId)), "Ledger.wallet"),
      stack: (tableId, accountId) => withSpanWhenExported(observe<StackState>("stack", stackKey(tableId, accountId)), "Ledger.stack"),
      pot: (tableId, handId) => withSpanWhenExported(pot(tableId, handId), "Ledger.pot"),
      reservation: (reservationId) =>
        withSpanWhenExported(observe<ReservationState>("reservation", reservationKey(reservationId)), "Ledger.reservation"),
      entries: Effect.fn("Ledger.entries")((account: AccountRef, afterSeq: number, limit: number) =>
        store.entries(account, afterSeq, limit)
      ),
      transfers: Effect.fn("Ledger.transfers")((account: AccountRef, cursor: string | null, limit: number) =>
        store.transfers(account, cursor, limit)
      ),
      events: Effect.fn("Ledger.events")((cursor: string | null, limit: number) => store.events(cursor, limit)),
      accounts: Effect.fn("Ledger.accounts")((cursor: string | null, limit: number, prefix?: string) =>
        store.accounts(cursor, limit, prefix)
      ),
      supply: Effect.fn("Ledger.supply")(function*() {
        return { system: yield* store.systemBalances(), stats: yield* store.stats() }
      })
    })
  }))
}

import { Cause, Clock, Context, Effect, Layer, Random } from "effect"
import {
  ABSENT,
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
import type { StatName } from "../domain/plan.ts"
import { keysFor, missingKeys, plan } from "../domain/planner.ts"
import type { ResultByOp } from "../domain/responses.ts"
import type { Transfer } from "../domain/transfer.ts"
import { type IdempotencyRecord, type Page, Store, type StoreEvent } from "../store/Store.ts"
import { StoreUnavailable } from "../store/StoreErrors.ts"
import { fingerprint } from "./fingerprint.ts"
import { makeKeyedLock } from "./KeyedLock.ts"
import { LedgerContention } from "./LedgerErrors.ts"
import { LedgerSettings } from "./LedgerSettings.ts"
import { ObjectCache } from "./ObjectCache.ts"
import { Metrics, type StoreOperation } from "../observability/Metrics.ts"

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
    /** Store calls on the request path, timed (each is one round trip) and traced as `Store.<operation>` whatever the store. */
    const timed = <A, E>(operation: StoreOperation, effect: Effect.Effect<A, E>): Effect.Effect<A, E> =>
      Effect.suspend(() => {
        const end = metrics.storeDuration.startTimer({ operation })
        return Effect.onExit(effect, (exit) =>
          Effect.sync(() => {
            end()
            if (exit._tag === "Failure" && Cause.hasFails(exit.cause)) metrics.storeErrors.inc({ operation })
          }))
      }).pipe(Effect.withSpan(`Store.${operation}`, { kind: "client", attributes: { "db.operation.name": operation } }, { captureStackTrace: false }))
    const store = {
      ...rawStore,
      load: (keys: ReadonlyArray<string>, idempotencyKey?: string) => timed("load", rawStore.load(keys, idempotencyKey)),
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

    const run = <C extends Command>(command: C) =>
      Effect.gen(function*() {
        type R = ResultByOp[C["op"]]
        // Keys are scoped per operation: a game that reuses "hand-7:seat-2" for a bet and a cash-out means two requests.
        const clientKey = idempotencyKeyOf(command)
        const idempotencyKey = clientKey === undefined ? undefined : `${command.op}:${clientKey}`
        const requestFingerprint = idempotencyKey ? fingerprint(command) : ""
        const state = new Map<string, Versioned>()
        /** Keys read from the store during this command, each with the number of the read that brought it. */
        const freshKeys = new Map<string, number>()
        let reads = 0
        let idempotencyChecked = false

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
        /**
         * Answers that no apply of ours just confirmed (a stored replay, a repeated commit) wait for
         * replicas too: the write they report may be the one whose acknowledgement failed earlier.
         */
        const confirmed = (executed: Executed<R>) => Effect.as(store.awaitReplication(), executed)
        const answerFromRecord = (record: IdempotencyRecord | null): Effect.Effect<Executed<R> | undefined, Refusal | StoreUnavailable> => {
          if (!record) return Effect.succeed(undefined)
          if (record.fingerprint !== requestFingerprint) {
            return Effect.fail(refuse("IDEMPOTENCY_KEY_REUSED", "this idempotency key was used for a different request", "idempotencyKey"))
          }
          metrics.idempotentReplays.inc({ operation: command.op })
          forgetUnverified()
          return confirmed({ result: JSON.parse(record.response) as R, replayed: true })
        }
        const loadFresh = (keys: ReadonlyArray<string>) =>
          Effect.gen(function*() {
            const askKey = idempotencyKey && !idempotencyChecked ? idempotencyKey : undefined
            const snapshot = yield* store.load(keys, askKey)
            remember(snapshot.objects)
            if (askKey) {
              idempotencyChecked = true
              return yield* answerFromRecord(snapshot.idempotency)
            }
            return undefined
          })
        /** Fills `state` with every key the command needs: cache first, then one load for the rest. */
        const fill = Effect.gen(function*() {
          for (;;) {
            const missing = missingKeys(command, state)
            if (missing.length === 0) return undefined
            const toLoad: Array<string> = []
            for (const key of missing) {
              const cached = cache.get(key)
              if (cached) state.set(key, cached)
              else if (assumeAbsentWhenUnseen(key)) state.set(key, ABSENT)
              else toLoad.push(key)
            }
            if (toLoad.length > 0) {
              const replay = yield* loadFresh(toLoad)
              if (replay) return replay
            }
          }
        })

        const maxAttempts = settings.conflictRetries
        for (let attempt = 1; attempt <= maxAttempts; attempt++) {
          const replay = yield* fill
          if (replay) return replay
          const now = yield* Clock.currentTimeMillis
          const keys = keysFor(command, state)
          // Only a plan from one snapshot may end the command with a refusal or count as a planner bug;
          // anything else reads all its keys again in one round trip and plans once more.
          const allFresh = oneSnapshot(keys)
          let outcome: ReturnType<typeof plan<C>>
          try {
            outcome = plan(command, state, { now, newId: settings.newId, hmacKey: settings.hmacKey }, settings.rules)
          } catch (defect) {
            // The planner's invariants held for the store's state but not for a stale cached mix
            // (e.g. a held amount another write already changed): read fresh state and plan again.
            if (allFresh) return yield* Effect.die(defect)
            const replay = yield* loadFresh(keys)
            if (replay) return replay
            continue
          }
          if (outcome._tag === "Refusal") {
            // A refusal fresh state could not change (the request alone decided it) is the answer as it stands.
            if (!REFUSALS[outcome.code].transient) return yield* Effect.fail(outcome)
            if (allFresh && (idempotencyChecked || !idempotencyKey)) return yield* Effect.fail(outcome)
            // The refusal may come from a stale cache, or the key may hold an earlier success: ask the store.
            const replay = yield* loadFresh(keys)
            if (replay) return replay
            continue
          }
          if (outcome._tag === "NoChange") {
            // A keyed command that needs no write (cancelling a cancelled pot) may be the retry of one
            // that did write, or reuse a key: the stored record answers first, as for any keyed command.
            if (idempotencyKey && !idempotencyChecked) {
              const replay = yield* loadFresh(keys)
              if (replay) return replay
              continue
            }
            return yield* confirmed({ result: outcome.response as R, replayed: false })
          }
          const result = yield* store.apply({
            plan: outcome.plan,
            responseJson: JSON.stringify(outcome.plan.response),
            idempotency: idempotencyKey
              ? { key: idempotencyKey, fingerprint: requestFingerprint, ttlMs: settings.idempotencyTtlMs }
              : null
          })
          switch (result._tag) {
            case "Applied":
              for (const w of outcome.plan.writes) {
                // Closed objects (one per hand, one per buy-in) are not cached: they would fill the cache
                // with the game's history (the soak benchmark saw RSS grow by a third in 5 minutes); a
                // late call about one reads it back, and apply's version check covers a plan made without it.
                if (isClosed(w.value)) cache.delete(w.key)
                else cache.set(w.key, { version: w.version, value: w.value })
              }
              return { result: outcome.plan.response as R, replayed: false }
            case "Replayed":
              metrics.idempotentReplays.inc({ operation: command.op })
              forgetUnverified()
              return { result: JSON.parse(result.response) as R, replayed: true }
            case "KeyReused":
              return yield* Effect.fail(
                refuse("IDEMPOTENCY_KEY_REUSED", "this idempotency key was used for a different request", "idempotencyKey")
              )
            case "Overflow":
              return yield* Effect.fail(refuse("AMOUNT_OVERFLOW", `the ${result.account} account would leave the safe integer range`))
            case "Conflict":
              metrics.conflictRetries.inc({ operation: command.op })
              remember(result.current)
              // Re-plan at once with the returned state. Another instance pipelining writes to the same
              // wallet can win every race; a short random pause now and then breaks the lockstep.
              if (attempt % 4 === 0) yield* Effect.sleep(Math.floor((yield* Random.next) * 4))
              continue
          }
        }
        return yield* Effect.fail(new LedgerContention({ attempts: maxAttempts }))
      })

    const outcomeOf = (e: ExecuteError) =>
      e._tag === "Refusal" ? e.code : e._tag === "StoreUnavailable" ? "unavailable" : "contention"
    const execute = <C extends Command>(command: C) =>
      withKeyLock(lockKeyOf(command), run(command), settings.keyWaitMs, (waitedMs) =>
        new StoreUnavailable({
          operation: "apply",
          reason: `waited ${waitedMs} ms behind other commands on the same account (the store is slow or down); nothing was written`
        })).pipe(
        Effect.onExit((exit) =>
          Effect.sync(() => {
            if (exit._tag === "Success") {
              metrics.commands.inc({ operation: command.op, outcome: exit.value.replayed ? "replayed" : "ok" })
            } else {
              const error = Cause.findErrorOption(exit.cause)
              if (error._tag === "Some") metrics.commands.inc({ operation: command.op, outcome: outcomeOf(error.value) })
            }
          })
        ),
        // No stack capture: the frame would always be this function, and it was the hottest Effect frame of a call.
        Effect.withSpan(`Ledger.execute.${command.op}`, { attributes: { "ledger.op": command.op } }, { captureStackTrace: false })
      )

    /** Reads one object from the store; when the store is down, the last state seen here, marked stale. */
    const observe = <T extends WalletState | StackState | PotState | ReservationState>(object: T["kind"], key: string) =>
      store.load([key]).pipe(
        Effect.map((snapshot): Observed<T> => {
          const v = snapshot.objects.get(key) ?? ABSENT
          cache.set(key, v)
          return { value: v.value as T | null, version: v.version, stale: false }
        }),
        Effect.catchTag("StoreUnavailable", (error) => {
          const cached = cache.get(key)
          if (cached) metrics.staleReads.inc({ object })
          return cached
            ? Effect.succeed<Observed<T>>({ value: cached.value as T | null, version: cached.version, stale: true })
            : Effect.fail(error)
        })
      )

    /** Spans of the per-call reads, without Effect.fn's stack capture per call (GetBalance is a hot path too). */
    const readSpan = (name: string) => Effect.withSpan(name, {}, { captureStackTrace: false })

    return Ledger.of({
      execute,
      wallet: (accountId) => observe<WalletState>("wallet", walletKey(accountId)).pipe(readSpan("Ledger.wallet")),
      stack: (tableId, accountId) => observe<StackState>("stack", stackKey(tableId, accountId)).pipe(readSpan("Ledger.stack")),
      pot: (tableId, handId) => observe<PotState>("pot", potKey(tableId, handId)).pipe(readSpan("Ledger.pot")),
      reservation: (reservationId) =>
        observe<ReservationState>("reservation", reservationKey(reservationId)).pipe(readSpan("Ledger.reservation")),
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

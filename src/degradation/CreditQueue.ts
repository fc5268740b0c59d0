import { randomUUID } from "node:crypto"
import { join } from "node:path"
import { Cause, Clock, Context, Effect, Layer, Option, Semaphore } from "effect"
import * as Prom from "prom-client"
import { AppConfig } from "../config.ts"
import type { Command } from "../domain/commands.ts"
import type { Refusal } from "../domain/errors.ts"
import { everyInterval } from "../scheduling/everyInterval.ts"
import { Ledger } from "../ledger/Ledger.ts"
import { Metrics } from "../observability/Metrics.ts"
import { StoreUnavailable } from "../store/StoreErrors.ts"
import { appendDeadLetter, CreditJournal } from "./CreditJournal.ts"
import { type DeadLetterRecord, deadLetterPath } from "./DeadLetters.ts"

export interface DrainResult {
  readonly replayed: number
  readonly deadLettered: number
  readonly remaining: number
}

export interface CreditQueueCounters {
  readonly queued: number
  readonly replayed: number
  readonly deadLettered: number
}

/**
 * Credits that cannot bounce (deposit, release, cash-out, settle, cancel),
 * accepted while the store is down: written to an fsync'ed journal under
 * DATA_DIR before they are acknowledged, and replayed in order, with their
 * idempotency keys, once the store answers. A replay the ledger refuses goes
 * to the dead-letter file, a log line and a counter: never dropped silently.
 *
 * Each instance has its own queue, so with several instances on one Redis a
 * cash-out queued here can come back before the settle that fills its stack,
 * queued on another instance: a refusal that such a credit can cure is held
 * and tried again each drain for CREDIT_QUEUE_HOLD_MS before it is dead-lettered.
 */
export class CreditQueue extends Context.Service<CreditQueue, {
  readonly enqueue: (command: Command) => Effect.Effect<{ readonly queueId: string }, StoreUnavailable>
  readonly drainOnce: () => Effect.Effect<DrainResult>
  readonly pending: () => number
  readonly counters: () => CreditQueueCounters
}>()("balance/CreditQueue") {
  static readonly layer = Layer.effect(CreditQueue, Effect.gen(function*() {
    const ledger = yield* Ledger
    const dataDir = yield* AppConfig.dataDir
    const maxPending = yield* AppConfig.creditQueueMax
    const holdMs = yield* AppConfig.creditQueueHoldMs
    const deadLetters = deadLetterPath(dataDir)
    const journal = yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () => CreditJournal.open(join(dataDir, "credit-queue.jsonl")),
        catch: (cause) => new StoreUnavailable({ operation: "credit-queue.open", reason: String(cause) })
      }),
      (j) => Effect.promise(() => j.close())
    )
    if (journal.size > 0) yield* Effect.logWarning("credit queue holds commands from before the restart").pipe(Effect.annotateLogs({ pending: journal.size }))
    /** Serialises journal file operations (append, markDone and its compaction). */
    const journalLock = Semaphore.makeUnsafe(1)
    /** One drain at a time; held across store calls, so enqueue must not wait for it. */
    const drainLock = Semaphore.makeUnsafe(1)
    let queued = 0
    let replayed = 0
    let deadLettered = 0
    /** When each held credit was first refused (in memory: a restart gives it a new hold). */
    const heldSince = new Map<string, number>()

    /** A stack short for a cash-out may be filled by a settle or cancel still queued on another instance. */
    const curableElsewhere = (command: Command, refusal: Refusal) => command.op === "CashOut" && refusal.code === "INSUFFICIENT_STACK"

    const enqueue = Effect.fn("CreditQueue.enqueue")(function*(command: Command) {
      return yield* journalLock.withPermit(Effect.gen(function*() {
        if (journal.size >= maxPending) {
          return yield* new StoreUnavailable({ operation: "credit-queue.enqueue", reason: `credit queue is full (${maxPending})` })
        }
        const credit = { id: randomUUID(), enqueuedAt: yield* Clock.currentTimeMillis, command }
        yield* Effect.tryPromise({
          try: () => journal.append(credit),
          catch: (cause) => new StoreUnavailable({ operation: "credit-queue.enqueue", reason: String(cause) })
        })
        queued += 1
        yield* Effect.logWarning("store unavailable: credit queued").pipe(Effect.annotateLogs({ queueId: credit.id, op: command.op }))
        return { queueId: credit.id }
      }))
    })

    const drainOnce = Effect.fn("CreditQueue.drain")(function*() {
      return yield* drainLock.withPermit(Effect.gen(function*() {
        let replayedNow = 0
        let deadNow = 0
        for (const credit of journal.list()) {
          const exit = yield* Effect.exit(ledger.execute(credit.command))
          if (exit._tag === "Failure") {
            const failure = Cause.findErrorOption(exit.cause)
            if (failure._tag === "None") {
              // A defect (a bug) replaying this credit: it stays queued, in order, for the next round.
              yield* Effect.logError("queued credit could not be replayed; it stays queued", exit.cause).pipe(
                Effect.annotateLogs({ queueId: credit.id, op: credit.command.op })
              )
              break
            }
            const error = failure.value
            if (error._tag !== "Refusal") break // the store is still away (or contended): try again next round
            if (curableElsewhere(credit.command, error)) {
              const now = yield* Clock.currentTimeMillis
              const since = heldSince.get(credit.id)
              if (since === undefined) {
                heldSince.set(credit.id, now)
                yield* Effect.logWarning("queued credit refused on replay: held, the credit it needs may be queued on another instance").pipe(
                  Effect.annotateLogs({ queueId: credit.id, op: credit.command.op, error: error.code, holdMs })
                )
              }
              if (now - (since ?? now) < holdMs) continue
            }
            // (A queued cancel of a pot that an earlier attempt already cancelled is not a refusal: NoChange.)
            const deadLetteredAt = yield* Clock.currentTimeMillis
            yield* Effect.promise(() =>
              appendDeadLetter(deadLetters, { ...credit, deadLetteredAt, error: error.code, message: error.message } satisfies DeadLetterRecord))
            yield* Effect.logError("queued credit refused on replay: dead-lettered for reconciliation").pipe(
              Effect.annotateLogs({ queueId: credit.id, op: credit.command.op, error: error.code })
            )
            deadNow += 1
          } else {
            replayedNow += 1
          }
          yield* journalLock.withPermit(Effect.promise(() => journal.markDone(credit.id)))
          heldSince.delete(credit.id)
        }
        replayed += replayedNow
        deadLettered += deadNow
        if (replayedNow + deadNow > 0) {
          yield* Effect.logInfo("credit queue drained").pipe(
            Effect.annotateLogs({ replayed: replayedNow, deadLettered: deadNow, remaining: journal.size })
          )
        }
        return { replayed: replayedNow, deadLettered: deadNow, remaining: journal.size }
      }))
    })

    return CreditQueue.of({
      enqueue,
      // Suspended: the size is read each time the effect runs (the schedule builds it once and repeats it).
      drainOnce: () =>
        Effect.suspend(() => (journal.size === 0 ? Effect.succeed({ replayed: 0, deadLettered: 0, remaining: 0 }) : drainOnce())),
      pending: () => journal.size,
      counters: () => ({ queued, replayed, deadLettered })
    })
  }))

  /** Drains every CREDIT_QUEUE_DRAIN_MS while anything is pending. */
  static readonly schedule = Layer.effectDiscard(Effect.gen(function*() {
    const every = yield* AppConfig.creditQueueDrainMs
    const queue = yield* CreditQueue
    yield* everyInterval("credit queue drain", every, queue.drainOnce())
  }))

  /**
   * The queue's figures on the service's registry, read on scrape: pending now, and queued /
   * replayed / dead-lettered since start. Nothing when the app runs without a queue.
   */
  static readonly metrics = Layer.effectDiscard(Effect.gen(function*() {
    const { registry } = yield* Metrics
    const queue = yield* Effect.serviceOption(CreditQueue)
    if (Option.isNone(queue)) return
    const q = queue.value
    const registers = [registry]
    new Prom.Gauge({ name: "balance_credit_queue_pending", help: "Credits waiting in the durable queue", registers, collect() { this.set(q.pending()) } })
    new Prom.Counter({
      name: "balance_credit_queue_total",
      help: "Credits queued while the store was down, replayed, and dead-lettered (this instance)",
      labelNames: ["event"],
      registers,
      collect() {
        const c = q.counters()
        this.reset()
        this.inc({ event: "queued" }, c.queued)
        this.inc({ event: "replayed" }, c.replayed)
        this.inc({ event: "dead_lettered" }, c.deadLettered)
      }
    })
  }))
}

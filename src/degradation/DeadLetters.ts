import { appendFile, readFile } from "node:fs/promises"
import { join } from "node:path"
import { Clock, Context, Effect, Layer, Schema, Semaphore } from "effect"
import { AppConfig } from "../config.ts"
import type { Command } from "../domain/commands.ts"
import type { Refusal } from "../domain/errors.ts"
import { type ExecuteError, Ledger } from "../ledger/Ledger.ts"

/** Where the credit queue writes the credits refused on replay, one JSON line each. */
export const deadLetterPath = (dataDir: string) => join(dataDir, "credit-dead-letter.jsonl")
/** What happened to each retry asked for by an admin; the dead-letter file itself is never rewritten. */
export const deadLetterRetriesPath = (dataDir: string) => join(dataDir, "credit-dead-letter-retries.jsonl")

/** One line of the dead-letter file, as CreditQueue writes it. */
export interface DeadLetterRecord {
  readonly id: string
  readonly enqueuedAt: number
  /** Absent in lines written before it was recorded. */
  readonly deadLetteredAt?: number
  readonly command: Command
  readonly error: string
  readonly message: string
}

export interface DeadLetterRetry {
  readonly id: string
  readonly at: number
  /** APPLIED: it moved chips now; REPLAYED: its idempotency key had already been applied; REFUSED: refused again. */
  readonly outcome: "APPLIED" | "REPLAYED" | "REFUSED"
  readonly error?: string
  readonly message?: string
  readonly result?: unknown
}

export interface DeadLetter extends DeadLetterRecord {
  /** OPEN until a retry applied it (or found it already applied): then RESOLVED. */
  readonly status: "OPEN" | "RESOLVED"
  readonly retries: ReadonlyArray<DeadLetterRetry>
}

export class DeadLetterNotFound extends Schema.TaggedError<DeadLetterNotFound>()("DeadLetterNotFound", { id: Schema.String }) {
  override get message() {
    return `no dead-lettered credit ${this.id} on this instance`
  }
}

export class DeadLetterResolved extends Schema.TaggedError<DeadLetterResolved>()("DeadLetterResolved", { id: Schema.String }) {
  override get message() {
    return `dead-lettered credit ${this.id} was already applied by an earlier retry`
  }
}

export class DeadLetterFileError extends Schema.TaggedError<DeadLetterFileError>()("DeadLetterFileError", { reason: Schema.String }) {
  override get message() {
    return `the dead-letter files could not be read or written: ${this.reason}`
  }
}

export type RetryError = ExecuteError | DeadLetterNotFound | DeadLetterResolved | DeadLetterFileError

const readLines = async <A>(path: string): Promise<Array<A>> => {
  let text: string
  try {
    text = await readFile(path, "utf8")
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return []
    throw e
  }
  const out: Array<A> = []
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue
    try {
      out.push(JSON.parse(line) as A)
    } catch {
      // A torn last line (a crash mid-append) is not a record.
    }
  }
  return out
}

/**
 * The credits this instance's queue could not apply on replay (DATA_DIR/credit-dead-letter.jsonl),
 * for review and retry by an admin. A retry runs the original command through the ledger with its
 * original idempotency key, so a credit that did land after all (another instance, an earlier
 * retry) answers its first result and moves nothing again. Each instance has its own DATA_DIR and
 * so its own dead letters.
 */
export class DeadLetters extends Context.Service<DeadLetters, {
  /** Newest first. */
  readonly list: () => Effect.Effect<ReadonlyArray<DeadLetter>, DeadLetterFileError>
  readonly retry: (id: string) => Effect.Effect<{ readonly deadLetter: DeadLetter; readonly retry: DeadLetterRetry }, RetryError>
}>()("balance/DeadLetters") {
  static readonly layerAt = (dataDir: string) => Layer.effect(DeadLetters, Effect.gen(function*() {
    const ledger = yield* Ledger
    const lettersFile = deadLetterPath(dataDir)
    const retriesFile = deadLetterRetriesPath(dataDir)
    /** One retry at a time: two admins clicking at once run the command once and record both answers in order. */
    const lock = Semaphore.makeUnsafe(1)
    const fileError = (cause: unknown) => new DeadLetterFileError({ reason: String(cause) })

    const list = Effect.fn("DeadLetters.list")(function*() {
      const [letters, retries] = yield* Effect.tryPromise({
        try: () => Promise.all([readLines<DeadLetterRecord>(lettersFile), readLines<DeadLetterRetry>(retriesFile)]),
        catch: fileError
      })
      const byId = new Map<string, Array<DeadLetterRetry>>()
      for (const r of retries) byId.set(r.id, [...(byId.get(r.id) ?? []), r])
      return letters.reverse().map((letter): DeadLetter => {
        const tries = byId.get(letter.id) ?? []
        return { ...letter, status: tries.some((t) => t.outcome !== "REFUSED") ? "RESOLVED" : "OPEN", retries: tries }
      })
    })

    const record = (retry: DeadLetterRetry) =>
      Effect.tryPromise({ try: () => appendFile(retriesFile, `${JSON.stringify(retry)}\n`, { mode: 0o600 }), catch: fileError })

    const retry = Effect.fn("DeadLetters.retry")(function*(id: string) {
      return yield* lock.withPermit(Effect.gen(function*() {
        const letter = (yield* list()).find((l) => l.id === id)
        if (letter === undefined) return yield* new DeadLetterNotFound({ id })
        if (letter.status === "RESOLVED") return yield* new DeadLetterResolved({ id })
        const exit = yield* Effect.exit(ledger.execute(letter.command))
        const at = yield* Clock.currentTimeMillis
        if (exit._tag === "Success") {
          const done: DeadLetterRetry = { id, at, outcome: exit.value.replayed ? "REPLAYED" : "APPLIED", result: exit.value.result }
          yield* record(done)
          yield* Effect.logInfo("dead-lettered credit retried: applied").pipe(
            Effect.annotateLogs({ queueId: id, op: letter.command.op, outcome: done.outcome })
          )
          return { deadLetter: { ...letter, status: "RESOLVED" as const, retries: [...letter.retries, done] }, retry: done }
        }
        const failure = exit.cause.reasons.find((r) => r._tag === "Fail")
        if (failure === undefined) return yield* Effect.failCause(exit.cause)
        const error = failure.error
        if (error._tag === "Refusal") {
          const refused: Refusal = error
          yield* record({ id, at, outcome: "REFUSED", error: refused.code, message: refused.message })
          yield* Effect.logWarning("dead-lettered credit retried: refused again").pipe(
            Effect.annotateLogs({ queueId: id, op: letter.command.op, error: refused.code })
          )
        }
        return yield* Effect.fail(error)
      }))
    })

    return DeadLetters.of({ list, retry })
  }))

  static readonly layer = Layer.unwrap(Effect.map(AppConfig.dataDir, (dir) => DeadLetters.layerAt(dir)))
}

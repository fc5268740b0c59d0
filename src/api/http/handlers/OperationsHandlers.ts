import { Clock, Effect, Option } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { idempotencyKeyOf } from "../../../domain/commands.ts"
import type { DeadLetter, DeadLetterRetry } from "../../../degradation/DeadLetters.ts"
import { CreditQueue } from "../../../degradation/CreditQueue.ts"
import { DeadLetters } from "../../../degradation/DeadLetters.ts"
import { ArchiveStatus, type ArchiveStatusReport } from "../../../archive/ArchiveStatus.ts"
import { Ledger } from "../../../ledger/Ledger.ts"
import { LedgerVerifier } from "../../../ledger/LedgerVerifier.ts"
import { type VerificationJob, VerificationJobs } from "../../../ledger/VerificationJobs.ts"
import { Store } from "../../../store/Store.ts"
import { Conflict, historyUnavailable, InternalError, NotFound, storeUnavailable, Unavailable } from "../ApiErrors.ts"
import { BalanceApi } from "../BalanceApi.ts"
import { decodeCursor, nextCursorOf } from "../cursor.ts"
import { walletMustExist } from "../queries/walletMustExist.ts"
import { fromExecuteError } from "../refusalStatus.ts"
import { supplyReport } from "../queries/supplyReport.ts"
import { DEFAULT_LIMIT, iso } from "../schemas/CommonSchemas.ts"
import { reportView } from "../views.ts"

const field = (command: object, name: string): unknown => (command as Record<string, unknown>)[name]
const stringField = (command: object, name: string) => {
  const v = field(command, name)
  return typeof v === "string" ? v : null
}

const retryView = (r: DeadLetterRetry) => ({
  at: iso(r.at),
  outcome: r.outcome,
  ...(r.error === undefined ? {} : { error: r.error }),
  ...(r.message === undefined ? {} : { message: r.message }),
  ...(r.result === undefined ? {} : { result: r.result })
})

const deadLetterView = (d: DeadLetter) => {
  const amount = field(d.command, "amount")
  return {
    queueId: d.id,
    op: d.command.op,
    accountId: stringField(d.command, "accountId"),
    tableId: stringField(d.command, "tableId"),
    amount: typeof amount === "number" ? amount : null,
    idempotencyKey: idempotencyKeyOf(d.command) ?? null,
    command: { ...d.command } as Record<string, unknown>,
    enqueuedAt: iso(d.enqueuedAt),
    deadLetteredAt: d.deadLetteredAt === undefined ? null : iso(d.deadLetteredAt),
    error: d.error,
    message: d.message,
    status: d.status,
    retries: d.retries.map(retryView)
  }
}

export const verificationJobView = (j: VerificationJob) => ({
  jobId: j.jobId,
  mode: j.mode,
  ...(j.accountId === undefined ? {} : { accountId: j.accountId }),
  status: j.status,
  startedAt: iso(j.startedAt),
  finishedAt: j.finishedAt === undefined ? null : iso(j.finishedAt),
  progress: { ...j.progress, findings: j.progress.findings.map((f) => ({ account: f.account, seq: f.seq, kind: f.kind, detail: f.detail })) },
  report: j.report === undefined ? null : reportView(j.report),
  error: j.error ?? null
})

const archiveView = (a: ArchiveStatusReport) =>
  a.state === "NOT_CONFIGURED" ? a : { ...a, lastBatchAt: a.lastBatchAt === null ? null : iso(a.lastBatchAt) }

/** The dead-letter files are this instance's own: an unreadable one is a fault here, not the store's. */
const fileFault = (e: { readonly message: string }) =>
  Effect.andThen(
    Effect.logError("dead-letter file unreadable").pipe(Effect.annotateLogs({ reason: e.message })),
    Effect.fail(new InternalError({ error: "INTERNAL", message: "the dead-letter file could not be read; see the service log" }))
  )

export const OperationsHandlers = HttpApiBuilder.group(BalanceApi, "operations", Effect.fnUntraced(function*(handlers) {
  const ledger = yield* Ledger
  const verifier = yield* LedgerVerifier
  const store = yield* Store
  const deadLetters = yield* DeadLetters
  const jobs = yield* VerificationJobs
  const archive = yield* ArchiveStatus
  const queue = yield* Effect.serviceOption(CreditQueue)

  const listDeadLetters = deadLetters.list().pipe(
    Effect.catchTag("DeadLetterFileError", (e) => Effect.as(Effect.logError("dead-letter file unreadable").pipe(Effect.annotateLogs({ reason: e.message })), null))
  )

  return handlers
    .handle("overview", Effect.fnUntraced(function*() {
      const started = yield* Clock.currentTimeMillis
      const ping = yield* Effect.exit(store.ping())
      const latencyMs = (yield* Clock.currentTimeMillis) - started
      const letters = (yield* listDeadLetters) ?? []
      const supply = yield* Effect.option(ledger.supply())
      const last = yield* verifier.lastReport()
      const running = (yield* jobs.list()).find((j) => j.status === "RUNNING")
      const archiveStatus = yield* Effect.option(archive.status())
      return {
        store: ping._tag === "Success"
          ? { up: true, latencyMs, error: null }
          : { up: false, latencyMs: null, error: "the store does not answer" },
        creditQueue: Option.match(queue, {
          onNone: () => null,
          onSome: (q) => ({ pending: q.pending(), ...q.counters() })
        }),
        deadLetters: { open: letters.filter((l) => l.status === "OPEN").length, total: letters.length },
        verification: { last: last === null ? null : reportView(last), runningJobId: running?.jobId ?? null },
        archive: Option.match(archiveStatus, { onNone: () => null, onSome: archiveView }),
        supply: Option.match(supply, { onNone: () => null, onSome: (s) => supplyReport(s, last) })
      }
    }))
    .handle("deadLetters", Effect.fnUntraced(function*({ query }) {
      const status = query.status ?? "OPEN"
      const scope = `dead-letters:${status}`
      const start = Number((yield* decodeCursor(scope, query.cursor)) ?? "0")
      const all = yield* deadLetters.list().pipe(Effect.catchTag("DeadLetterFileError", fileFault))
      const matching = status === "ALL" ? all : all.filter((l) => l.status === status)
      const limit = query.limit ?? DEFAULT_LIMIT
      const page = matching.slice(start, start + limit)
      return {
        items: page.map(deadLetterView),
        nextCursor: nextCursorOf(scope, start + limit < matching.length ? String(start + limit) : null),
        open: all.filter((l) => l.status === "OPEN").length
      }
    }))
    .handle("retryDeadLetter", ({ params }) =>
      deadLetters.retry(params.queueId).pipe(
        Effect.map(({ deadLetter, retry }) => ({ deadLetter: deadLetterView(deadLetter), retry: retryView(retry) })),
        Effect.catchTags({
          DeadLetterNotFound: (e) => Effect.fail(new NotFound({ error: "DEAD_LETTER_NOT_FOUND", message: e.message })),
          DeadLetterResolved: (e) => Effect.fail(new Conflict({ error: "DEAD_LETTER_RESOLVED", message: e.message })),
          DeadLetterFileError: fileFault,
          Refusal: (e) => Effect.fail(fromExecuteError(e)),
          StoreUnavailable: () => Effect.fail(storeUnavailable()),
          LedgerContention: (e) => Effect.fail(fromExecuteError(e))
        })
      ))
    .handle("startVerification", Effect.fnUntraced(function*({ payload }) {
      const accountId = payload?.accountId
      if (accountId !== undefined) yield* walletMustExist(ledger, accountId)
      const job = yield* jobs.start(accountId !== undefined ? { mode: "account", accountId } : { mode: payload?.mode ?? "full" }).pipe(
        Effect.catchTag("VerificationRunning", (e) =>
          Effect.fail(new Conflict({ error: "VERIFICATION_RUNNING", message: e.message, details: { jobId: e.jobId } })))
      )
      return verificationJobView(job)
    }))
    .handle("verificationJobs", () => Effect.map(jobs.list(), (items) => ({ items: items.map(verificationJobView) })))
    .handle("verificationJob", ({ params }) =>
      Effect.flatMap(jobs.get(params.jobId), (job) =>
        job === undefined
          ? Effect.fail(new NotFound({ error: "VERIFICATION_JOB_NOT_FOUND", message: `no verification job ${params.jobId} on this instance` }))
          : Effect.succeed(verificationJobView(job))))
    .handle("archiveStatus", () =>
      archive.status().pipe(
        Effect.map(archiveView),
        Effect.mapError((e): Unavailable => e._tag === "HistoryUnavailable" ? historyUnavailable() : storeUnavailable())
      ))
}))

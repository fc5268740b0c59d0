import { randomUUID } from "node:crypto"
import { Cause, Clock, Context, Effect, Layer, Schema } from "effect"
import { type AccountRef, walletKey } from "../domain/accounts.ts"
import type { Finding } from "../domain/chainVerification.ts"
import { LedgerVerifier, type VerificationProgress, type VerificationReport } from "./LedgerVerifier.ts"

export type VerificationJobMode = "full" | "incremental" | "account"

export interface VerificationJob {
  readonly jobId: string
  readonly mode: VerificationJobMode
  readonly accountId?: string
  readonly status: "RUNNING" | "DONE" | "FAILED"
  readonly startedAt: number
  readonly finishedAt?: number
  readonly progress: {
    readonly accountsTotal: number
    readonly accountsChecked: number
    readonly entriesChecked: number
    readonly findingsCount: number
    /** The first MAX_FINDINGS_SHOWN findings so far; the final report has all of them. */
    readonly findings: ReadonlyArray<Finding>
  }
  readonly report?: VerificationReport
  /** Why a FAILED job stopped (the store stopped answering). */
  readonly error?: string
}

export class VerificationRunning extends Schema.TaggedError<VerificationRunning>()("VerificationRunning", { jobId: Schema.String }) {
  override get message() {
    return `verification ${this.jobId} is still running; follow it instead of starting another`
  }
}

const MAX_FINDINGS_SHOWN = 100
/** Finished jobs kept for polling; the oldest are forgotten first. */
const MAX_JOBS_KEPT = 20

const progressOf = (p: VerificationProgress): VerificationJob["progress"] => ({
  accountsTotal: p.accountsTotal,
  accountsChecked: p.accountsChecked,
  entriesChecked: p.entriesChecked,
  findingsCount: p.findings.length,
  findings: p.findings.slice(0, MAX_FINDINGS_SHOWN)
})

/**
 * Verification passes an admin starts and then follows: start answers a job id at once, the pass
 * runs in the background reporting accounts checked out of the total and the findings so far, and
 * the job keeps the final report. One job runs at a time per instance (a pass reads every chain;
 * two at once only double the load). Jobs live in this instance's memory: poll the instance that
 * started it. The synchronous POST /api/admin/ledger/verify stays for scripts.
 */
export class VerificationJobs extends Context.Service<VerificationJobs, {
  readonly start: (request: { readonly mode: VerificationJobMode; readonly accountId?: string }) => Effect.Effect<VerificationJob, VerificationRunning>
  readonly get: (jobId: string) => Effect.Effect<VerificationJob | undefined>
  /** Newest first. */
  readonly list: () => Effect.Effect<ReadonlyArray<VerificationJob>>
}>()("balance/VerificationJobs") {
  static readonly layer = Layer.effect(VerificationJobs, Effect.gen(function*() {
    const verifier = yield* LedgerVerifier
    const scope = yield* Effect.scope
    const jobs = new Map<string, VerificationJob>()
    const update = (jobId: string, f: (job: VerificationJob) => VerificationJob) =>
      Effect.sync(() => {
        const job = jobs.get(jobId)
        if (job !== undefined) jobs.set(jobId, f(job))
      })
    const forgetOld = () => {
      const finished = [...jobs.values()].filter((j) => j.status !== "RUNNING")
      for (const j of finished.slice(0, Math.max(0, jobs.size - MAX_JOBS_KEPT))) jobs.delete(j.jobId)
    }

    const start = Effect.fn("VerificationJobs.start")(function*(request: { readonly mode: VerificationJobMode; readonly accountId?: string }) {
      const running = [...jobs.values()].find((j) => j.status === "RUNNING")
      if (running !== undefined) return yield* new VerificationRunning({ jobId: running.jobId })
      const jobId = randomUUID()
      const job: VerificationJob = {
        jobId,
        mode: request.mode,
        ...(request.accountId === undefined ? {} : { accountId: request.accountId }),
        status: "RUNNING",
        startedAt: yield* Clock.currentTimeMillis,
        progress: { accountsTotal: request.mode === "account" ? 1 : 0, accountsChecked: 0, entriesChecked: 0, findingsCount: 0, findings: [] }
      }
      jobs.set(jobId, job)
      forgetOld()
      const onProgress = (p: VerificationProgress) => update(jobId, (j) => ({ ...j, progress: progressOf(p) }))
      const pass: Effect.Effect<VerificationReport, unknown> = request.mode === "account"
        ? verifier.verifyAccount(walletKey(request.accountId ?? "") as AccountRef)
        : request.mode === "incremental"
        ? verifier.verifyIncremental(onProgress)
        : verifier.verifyAll(onProgress)
      yield* pass.pipe(
        Effect.matchCauseEffect({
          onSuccess: (report) =>
            update(jobId, (j) => ({
              ...j,
              status: "DONE",
              finishedAt: report.finishedAt,
              report,
              progress: progressOf({
                accountsTotal: Math.max(j.progress.accountsTotal, report.accountsChecked),
                accountsChecked: report.accountsChecked,
                entriesChecked: report.entriesChecked,
                findings: report.findings
              })
            })),
          onFailure: (cause) =>
            Effect.flatMap(Clock.currentTimeMillis, (now) => {
              const error = Cause.squash(cause)
              return update(jobId, (j) => ({ ...j, status: "FAILED", finishedAt: now, error: error instanceof Error ? error.message : String(error) }))
            })
        }),
        Effect.forkIn(scope)
      )
      return jobs.get(jobId)!
    })

    return VerificationJobs.of({
      start,
      get: (jobId) => Effect.sync(() => jobs.get(jobId)),
      list: () => Effect.sync(() => [...jobs.values()].reverse())
    })
  }))
}

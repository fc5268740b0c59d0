import { Effect, Layer } from "effect"
import { AppConfig } from "../config.ts"
import { everyInterval } from "./everyInterval.ts"
import { LedgerVerifier, type VerificationReport } from "../ledger/LedgerVerifier.ts"
import { Metrics } from "../observability/Metrics.ts"

const logReport = (report: VerificationReport) =>
  report.ok
    ? Effect.logDebug("ledger verification passed").pipe(
      Effect.annotateLogs({ mode: report.mode, accounts: report.accountsChecked, entries: report.entriesChecked })
    )
    : Effect.forEach(report.findings, (f) =>
      Effect.logError("ledger verification finding").pipe(
        Effect.annotateLogs({ mode: report.mode, account: f.account, seq: f.seq, kind: f.kind, detail: f.detail })
      ), { discard: true })

/**
 * Incremental verification every LEDGER_VERIFY_INTERVAL_MS (only entries
 * appended since the last clean pass) and a full pass every
 * LEDGER_FULL_VERIFY_INTERVAL_MS. Findings are logged one line each; the
 * verifier keeps the last report for the admin endpoint.
 */
export const LedgerVerificationJob = Layer.effectDiscard(Effect.gen(function*() {
  const verifier = yield* LedgerVerifier
  const metrics = yield* Metrics
  const record = (report: VerificationReport) =>
    Effect.sync(() => {
      metrics.verificationRuns.inc({ mode: report.mode, result: report.ok ? "ok" : "findings" })
      for (const f of report.findings) metrics.verificationFindings.inc({ kind: f.kind })
      if (report.ok) metrics.lastVerificationSuccess.set(report.finishedAt / 1000)
    })
  const incrementalEvery = yield* AppConfig.ledgerVerifyIntervalMs
  const fullEvery = yield* AppConfig.ledgerFullVerifyIntervalMs
  const run = (pass: Effect.Effect<VerificationReport, unknown>) =>
    pass.pipe(
      Effect.tap(record),
      Effect.flatMap(logReport),
      Effect.catch((error) => Effect.logWarning("ledger verification could not run").pipe(Effect.annotateLogs({ error: String(error) })))
    )
  yield* everyInterval("incremental ledger verification", incrementalEvery, run(verifier.verifyIncremental()), { startAfterInterval: true })
  yield* everyInterval("full ledger verification", fullEvery, run(verifier.verifyAll()), { startAfterInterval: true })
}))

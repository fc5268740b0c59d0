import { Effect, Layer } from "effect"
import { AppConfig } from "../config.ts"
import { LedgerVerifier } from "../ledger/LedgerVerifier.ts"
import { everyInterval } from "../scheduling/everyInterval.ts"

/**
 * Incremental verification every LEDGER_VERIFY_INTERVAL_MS (only entries
 * appended since the last clean pass) and a full pass every
 * LEDGER_FULL_VERIFY_INTERVAL_MS. The verifier itself logs and counts each
 * pass's findings and keeps the last report for the admin endpoint.
 */
export const LedgerVerificationJob = Layer.effectDiscard(Effect.gen(function*() {
  const verifier = yield* LedgerVerifier
  const incrementalEvery = yield* AppConfig.ledgerVerifyIntervalMs
  const fullEvery = yield* AppConfig.ledgerFullVerifyIntervalMs
  const run = (pass: Effect.Effect<unknown, unknown>) =>
    pass.pipe(
      Effect.catch((error) => Effect.logWarning("ledger verification could not run").pipe(Effect.annotateLogs({ error: String(error) })))
    )
  yield* everyInterval("incremental ledger verification", incrementalEvery, run(verifier.verifyIncremental()), { startAfterInterval: true })
  yield* everyInterval("full ledger verification", fullEvery, run(verifier.verifyAll()), { startAfterInterval: true })
}))

import { NodeRuntime } from "@effect/platform-node"
import { Cause, Effect, Exit, Layer } from "effect"
import type * as Runtime from "effect/Runtime"
import { StoreLayer } from "./app/StoreLayer.ts"
import { Ledger } from "./ledger/Ledger.ts"
import { LedgerSettings } from "./ledger/LedgerSettings.ts"
import { LedgerVerifier } from "./ledger/LedgerVerifier.ts"
import { LoggingLayer } from "./observability/Logging.ts"
import { Metrics } from "./observability/Metrics.ts"

const LedgerLayer = Layer.mergeAll(Ledger.layer, LedgerVerifier.layer).pipe(
  Layer.provideMerge(StoreLayer),
  Layer.provideMerge(LedgerSettings.layer),
  Layer.provideMerge(Metrics.layer)
)

const AppLayer = Layer.mergeAll(
  Layer.effectDiscard(Effect.logInfo("balance-service started"))
).pipe(Layer.provide(LedgerLayer))

/** SIGTERM/SIGINT interrupt the app; that is a clean stop (exit 0), not the default 130. */
const teardown: Runtime.Teardown = (exit, onExit) =>
  Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause) ? onExit(0) : onExit(Exit.isSuccess(exit) ? 0 : 1)

Layer.launch(AppLayer).pipe(
  Effect.tapCause((cause) => (Cause.hasInterruptsOnly(cause) ? Effect.void : Effect.logFatal("balance-service failed", cause))),
  Effect.onInterrupt(() => Effect.logInfo("balance-service stopped")),
  Effect.annotateLogs({ service: "balance-service" }),
  Effect.provide(LoggingLayer),
  NodeRuntime.runMain({ teardown, disableErrorReporting: true })
)

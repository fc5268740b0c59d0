import { NodeRuntime } from "@effect/platform-node"
import { Cause, Effect, Exit, Layer } from "effect"
import type * as Runtime from "effect/Runtime"
import { GrpcServerLayer } from "./api/grpc/GrpcServer.ts"
import { AuthSettings } from "./api/http/auth/AuthSettings.ts"
import * as HttpServer from "./api/http/HttpServer.ts"
import * as AdminServices from "./app/AdminServices.ts"
import { DataDirLock } from "./app/DataDirLock.ts"
import { listenerReadinessLayer } from "./listeners/ListenerReadiness.ts"
import { checkSettings, describeFailure } from "./app/startupChecks.ts"
import * as ServiceStore from "./app/ServiceStore.ts"
import { CommandExecutor } from "./degradation/CommandExecutor.ts"
import { CreditQueue } from "./degradation/CreditQueue.ts"
import { ArchiveJob } from "./jobs/ArchiveJob.ts"
import { LedgerVerificationJob } from "./jobs/LedgerVerificationJob.ts"
import { Ledger } from "./ledger/Ledger.ts"
import { LedgerSettings } from "./ledger/LedgerSettings.ts"
import { LedgerVerifier } from "./ledger/LedgerVerifier.ts"
import * as EconomyMetrics from "./economy/EconomyMetrics.ts"
import * as Logging from "./observability/Logging.ts"
import { Metrics } from "./observability/Metrics.ts"
import { MetricsServer } from "./observability/MetricsServer.ts"
import { RedisMemoryMetricsLayer } from "./store/redis/redisMemoryMetrics.ts"
import { TracingLayer } from "./observability/Tracing.ts"
import { ReservationExpiry } from "./reservations/ReservationExpiry.ts"

/** Store, ledger, verifier, durable credit queue: what every entry point serves from. */
const CoreLayer = Layer.mergeAll(CommandExecutor.layer, ReservationExpiry.layer).pipe(
  Layer.provideMerge(CreditQueue.layer),
  Layer.provideMerge(Layer.mergeAll(Ledger.layer, LedgerVerifier.layer)),
  Layer.provideMerge(ServiceStore.layer),
  Layer.provideMerge(LedgerSettings.layer),
  Layer.provideMerge(Metrics.layer),
  Layer.provideMerge(DataDirLock.layer)
)

/**
 * Servers and background fibers; all stop (in reverse order) when the app is interrupted.
 * One AuthSettings for both APIs (the admin credentials are the same); /api/ready waits
 * for the gRPC and metrics listeners.
 */
const AppLayer = Layer.mergeAll(
  HttpServer.layer,
  GrpcServerLayer,
  MetricsServer.layer,
  EconomyMetrics.layer,
  CreditQueue.metrics,
  ReservationExpiry.metrics,
  RedisMemoryMetricsLayer,
  ReservationExpiry.schedule,
  CreditQueue.schedule,
  LedgerVerificationJob,
  ArchiveJob
).pipe(
  Layer.provide(AdminServices.layer),
  Layer.provide(CoreLayer),
  Layer.provide(AuthSettings.layer),
  Layer.provide(listenerReadinessLayer(["grpc", "metrics"])),
  Layer.provide(TracingLayer)
)

/** SIGTERM/SIGINT interrupt the app; that is a clean stop (exit 0), not the default 130. */
const teardown: Runtime.Teardown = (exit, onExit) =>
  Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause) ? onExit(0) : onExit(Exit.isSuccess(exit) ? 0 : 1)

/** Set once every layer is up: a failure before is a failed start. */
let started = false
/** Set once the JSON logger reported the failure; if the logger itself could not start, fatalLineWithoutLogger does. */
let failureLogged = false

/** One JSON line: the reason (naming the variable to change) for a typed failure, the cause for a defect. */
const reportFailure = (cause: Cause.Cause<unknown>) => {
  const described = describeFailure(cause)
  const logged = described === undefined
    ? Effect.logFatal("balance-service failed", cause)
    : Effect.logFatal(`balance-service ${started ? "failed" : "failed to start"}: ${described.reason}`).pipe(
      Effect.annotateLogs({ error: described.tag })
    )
  return logged.pipe(Effect.tap(() => Effect.sync(() => failureLogged = true)))
}

/**
 * The logger could not start (a bad LOG_LEVEL): the same one JSON fatal line it would have
 * written, naming the variable, so that a log pipeline parses it like any other.
 */
const fatalLineWithoutLogger = (cause: Cause.Cause<unknown>): string => {
  const described = describeFailure(cause)
  return `${
    Logging.scrubSecrets(JSON.stringify({
      timestamp: new Date().toISOString(),
      level: "FATAL",
      message: `balance-service failed to start: ${described?.reason ?? Cause.pretty(cause)}`,
      service: "balance-service",
      ...(described === undefined ? {} : { error: described.tag })
    }))
  }\n`
}

Effect.gen(function*() {
  yield* checkSettings
  yield* Layer.build(AppLayer)
  started = true
  return yield* Effect.never
}).pipe(
  Effect.scoped,
  Effect.tapCause((cause) => Cause.hasInterruptsOnly(cause) ? Effect.void : reportFailure(cause)),
  Effect.onInterrupt(() => Effect.logInfo("balance-service stopped")),
  Effect.provide(Logging.layer),
  Effect.tapCause((cause) =>
    Cause.hasInterruptsOnly(cause) || failureLogged
      ? Effect.void
      : Effect.sync(() => process.stdout.write(fatalLineWithoutLogger(cause)))
  ),
  NodeRuntime.runMain({ teardown, disableErrorReporting: true })
)

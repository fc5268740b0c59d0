import * as grpc from "@grpc/grpc-js"
import type { PackageDefinition } from "@grpc/proto-loader"
import { ReflectionService } from "@grpc/reflection"
import { Context, Effect, FiberSet, Layer, type Redacted, Schema } from "effect"
import { AppConfig } from "../../config.ts"
import { makeBalanceHandlers } from "./balanceHandlers.ts"
import { makeBearerCheck } from "./bearerAuth.ts"
import { makeCallRunner } from "./callRunner.ts"
import { makeHealthService } from "./healthService.ts"
import { answerLabels } from "./mapFailure.ts"
import { BALANCE_SERVICE, HEALTH_SERVICE, loadProtoDefinition } from "./protoDefinition.ts"
import { serverCredentials, type TlsFiles } from "./serverCredentials.ts"
import { makeWatchAccount } from "./watchAccount.ts"
import { initialiseCounter, Metrics } from "../../observability/Metrics.ts"
import { grpcAccessLogConfig } from "../../observability/RequestLog.ts"
import { withStrictRequests } from "./strictDeserialize.ts"

export interface GrpcServerSettings {
  readonly host: string
  /** 0 binds any free port (tests); the bound one is in GrpcServerAddress. */
  readonly port: number
  readonly authToken: Redacted.Redacted<string> | undefined
  readonly tls: TlsFiles
  readonly shutdownTimeoutMs: number
  readonly watchPollMs: number
  /** Completion line of each call at Info (true) or Debug (false or absent): GRPC_ACCESS_LOG. */
  readonly accessLog?: boolean
}

export const grpcServerSettings = Effect.gen(function*() {
  const settings: GrpcServerSettings = {
    host: yield* AppConfig.host,
    port: yield* AppConfig.grpcPort,
    authToken: yield* AppConfig.grpcAuthToken,
    tls: { cert: yield* AppConfig.grpcTlsCert, key: yield* AppConfig.grpcTlsKey, ca: yield* AppConfig.grpcTlsCa },
    shutdownTimeoutMs: yield* AppConfig.grpcShutdownTimeoutMs,
    watchPollMs: yield* AppConfig.grpcWatchPollMs,
    accessLog: yield* grpcAccessLogConfig
  }
  return settings
})

/** Where the server listens once bound. */
export class GrpcServerAddress extends Context.Service<GrpcServerAddress, {
  readonly host: string
  readonly port: number
}>()("balance/GrpcServerAddress") {}

export class GrpcStartError extends Schema.TaggedError<GrpcStartError>()("GrpcStartError", {
  reason: Schema.String
}) {
  override get message() {
    return `gRPC server could not start: ${this.reason}`
  }
}

const bindAddress = (host: string, port: number) => `${host.includes(":") ? `[${host}]` : host}:${port}`

const serviceDefinition = (pkg: PackageDefinition, name: string) => withStrictRequests(pkg[name] as grpc.ServiceDefinition)

/** Refuses to start with an rpc of the contract left unimplemented (grpc-js would answer UNIMPLEMENTED). */
const checkComplete = (definition: grpc.ServiceDefinition, implementation: grpc.UntypedServiceImplementation, name: string) => {
  const missing = Object.keys(definition).filter((method) => !(method in implementation))
  return missing.length === 0
    ? Effect.void
    : Effect.fail(new GrpcStartError({ reason: `${name} has no handler for ${missing.join(", ")}` }))
}

/**
 * Binds BalanceService, grpc.health.v1.Health and server reflection. On scope
 * close: ends watch streams, stops accepting calls and drains in-flight ones
 * until the deadline, then cuts the rest off.
 */
export const startGrpcServer = (settings: GrpcServerSettings) =>
  Effect.gen(function*() {
    const pkg = yield* loadProtoDefinition
    const credentials = yield* serverCredentials(settings.tls)
    const handlers = yield* makeBalanceHandlers
    const watchAccount = yield* makeWatchAccount(settings.watchPollMs)
    const health = yield* makeHealthService

    const run = yield* FiberSet.makeRuntime<never, void, never>()
    const streams = yield* FiberSet.make<void, never>()
    const runStream = yield* FiberSet.runtime(streams)<never>()
    const metrics = yield* Metrics
    const runner = makeCallRunner({
      run,
      runStream,
      authorized: makeBearerCheck(settings.authToken),
      accessLog: settings.accessLog === true,
      observe: (method, outcome, seconds) => {
        metrics.grpcRequests.inc({ method, code: outcome })
        metrics.grpcDuration.observe({ method }, seconds)
      }
    })

    const balance: grpc.UntypedServiceImplementation = {
      WatchAccount: runner.serverStream(BALANCE_SERVICE, "WatchAccount", watchAccount, true)
    }
    for (const [method, m] of Object.entries(handlers)) {
      balance[method] = runner.unary(BALANCE_SERVICE, method, m.handle, m.mode, true)
    }
    // Probes carry no credentials: health stays open when a token is configured.
    const healthImpl: grpc.UntypedServiceImplementation = {
      Check: runner.unary(HEALTH_SERVICE, "Check", health.check, "status", false),
      Watch: runner.serverStream(HEALTH_SERVICE, "Watch", health.watch, false)
    }
    yield* checkComplete(serviceDefinition(pkg, BALANCE_SERVICE), balance, BALANCE_SERVICE)
    yield* checkComplete(serviceDefinition(pkg, HEALTH_SERVICE), healthImpl, HEALTH_SERVICE)
    // Every (method, outcome) at 0 from the start: error panels and alerts show 0, not "No data".
    for (const [method, m] of Object.entries(handlers)) initialiseCounter(metrics.grpcRequests, { method: [method], code: answerLabels(m.mode) })
    initialiseCounter(metrics.grpcRequests, { method: ["WatchAccount", ...Object.keys(healthImpl)], code: answerLabels("status") })

    const { port } = yield* Effect.acquireRelease(
      Effect.callback<{ server: grpc.Server; port: number }, GrpcStartError>((resume) => {
        const server = new grpc.Server()
        server.addService(serviceDefinition(pkg, BALANCE_SERVICE), balance)
        server.addService(serviceDefinition(pkg, HEALTH_SERVICE), healthImpl)
        // @grpc/reflection bundles its own proto-loader typings; the definition object is the same shape.
        new ReflectionService(pkg as ConstructorParameters<typeof ReflectionService>[0]).addToServer(server)
        server.bindAsync(bindAddress(settings.host, settings.port), credentials, (error, port) => {
          if (error) {
            server.forceShutdown()
            resume(Effect.fail(new GrpcStartError({ reason: `${bindAddress(settings.host, settings.port)}: ${error.message}` })))
          } else {
            resume(Effect.succeed({ server, port }))
          }
        })
      }),
      ({ server }) =>
        Effect.callback<void>((resume) => server.tryShutdown(() => resume(Effect.void))).pipe(
          Effect.timeoutOrElse({
            duration: settings.shutdownTimeoutMs,
            orElse: () =>
              Effect.sync(() => server.forceShutdown()).pipe(
                Effect.andThen(Effect.logWarning("grpc drain deadline passed; remaining calls cut off"))
              )
          }),
          Effect.andThen(Effect.logInfo("grpc stopped"))
        )
    )
    // Runs before the drain above: open streams would otherwise hold it until the deadline.
    yield* Effect.addFinalizer(() => FiberSet.clear(streams))

    yield* Effect.logInfo("grpc listening").pipe(
      Effect.annotateLogs({
        host: settings.host,
        port,
        tls: settings.tls.cert ? (settings.tls.ca ? "mutual" : "server") : "off",
        auth: settings.authToken ? "bearer" : "off"
      })
    )
    return GrpcServerAddress.of({ host: settings.host, port })
  })

/** The gRPC API on GRPC_PORT / HOST, configured from the environment. Requires Ledger and Store. */
export const GrpcServerLayer = Layer.effectDiscard(Effect.flatMap(grpcServerSettings, startGrpcServer))

/** The same server with explicit settings, exposing the bound address (tests bind port 0). */
export const grpcServerLayerWith = (settings: GrpcServerSettings) => Layer.effect(GrpcServerAddress, startGrpcServer(settings))

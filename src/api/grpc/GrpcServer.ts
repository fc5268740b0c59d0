import * as grpc from "@grpc/grpc-js"
import type { PackageDefinition } from "@grpc/proto-loader"
import { ReflectionService } from "@grpc/reflection"
import { Context, Effect, FiberSet, Layer, type Redacted, Schema } from "effect"
import { ListenerReadiness } from "../../listeners/ListenerReadiness.ts"
import { PortUnavailable, portUnavailable } from "../../listeners/PortUnavailable.ts"
import { AppConfig } from "../../config.ts"
import { AuthSettings, type AuthSettingsShape } from "../http/auth/AuthSettings.ts"
import { makeBalanceHandlers } from "./balanceHandlers.ts"
import { makeAuthorizer } from "./callAuth.ts"
import { makeCallRunner } from "./callRunner.ts"
import { makeHealthService } from "./healthService.ts"
import { answerLabels } from "./mapFailure.ts"
import { BALANCE_SERVICE, HEALTH_SERVICE, loadProtoDefinition } from "./protoDefinition.ts"
import { gameAccess } from "./grpcExposure.ts"
import { routeGrpcJsLogs } from "./grpcJsLogs.ts"
import { serverCredentials, type TlsFiles } from "./serverCredentials.ts"
import { makeWatchAccount } from "./watchAccount.ts"
import { grpcCallObserver, initialiseCounter, Metrics } from "../../observability/Metrics.ts"
import { grpcAccessLogConfig } from "../../observability/RequestLog.ts"
import { withStrictRequests } from "./strictDeserialize.ts"

export interface GrpcServerSettings {
  readonly host: string
  /** 0 binds any free port (tests); the bound one is in GrpcServerAddress. */
  readonly port: number
  /** GRPC_AUTH_TOKEN: the game's bearer token. */
  readonly authToken: Redacted.Redacted<string> | undefined
  /** Admin credentials, shared with the HTTP API: Deposit, Withdraw and EnsureAccount with an initial balance need them. */
  readonly admin: AuthSettingsShape
  /** GRPC_ALLOW_UNAUTHENTICATED: game calls without a credential even beyond loopback (warned at every start). */
  readonly allowUnauthenticated: boolean
  readonly tls: TlsFiles
  readonly shutdownTimeoutMs: number
  readonly watchPollMs: number
  /** Completion line of each call at Info (true) or Debug (false or absent): GRPC_ACCESS_LOG. */
  readonly accessLog?: boolean
}

/** GRPC_HOST, GRPC_PORT, GRPC_AUTH_TOKEN, GRPC_TLS_*, ... from config; admin credentials from AuthSettings. */
export const grpcServerSettings = Effect.gen(function*() {
  const settings: GrpcServerSettings = {
    host: yield* AppConfig.grpcHost,
    port: yield* AppConfig.grpcPort,
    authToken: yield* AppConfig.grpcAuthToken,
    admin: yield* AuthSettings,
    allowUnauthenticated: yield* AppConfig.grpcAllowUnauthenticated,
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
 * Untraced: FiberSet.makeRuntime captures the current context, and a span opened here
 * would become the parent of every call that arrives without a traceparent.
 */
export const startGrpcServer = Effect.fnUntraced(function*(settings: GrpcServerSettings) {
  const game = yield* gameAccess({
    host: settings.host,
    port: settings.port,
    authToken: settings.authToken,
    clientCertificates: settings.tls.ca !== undefined,
    allowUnauthenticated: settings.allowUnauthenticated,
    authDisabled: settings.admin.disabled
  })
  if (settings.allowUnauthenticated) {
    yield* Effect.logWarning(
      "GRPC_ALLOW_UNAUTHENTICATED=true: the game's calls (reserve, settle, cash out) need no credential; " +
        "anyone who can reach the gRPC port may make them. Set GRPC_AUTH_TOKEN or mutual TLS instead outside a network you trust"
    ).pipe(Effect.annotateLogs({ host: settings.host, port: settings.port, game }))
  }
  yield* routeGrpcJsLogs
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
    authorize: makeAuthorizer({ gameToken: settings.authToken, admin: settings.admin }),
    accessLog: settings.accessLog === true,
    observe: grpcCallObserver(metrics)
  })

  const balance: grpc.UntypedServiceImplementation = {
    WatchAccount: runner.serverStream(BALANCE_SERVICE, "WatchAccount", watchAccount, "game")
  }
  for (const [method, m] of Object.entries(handlers)) {
    balance[method] = runner.unary(BALANCE_SERVICE, method, m.handle, m.mode, m.access)
  }
  // Probes carry no credentials: health stays open when a token is configured.
  const healthImpl: grpc.UntypedServiceImplementation = {
    Check: runner.unary(HEALTH_SERVICE, "Check", health.check, "status", () => "open"),
    Watch: runner.serverStream(HEALTH_SERVICE, "Watch", health.watch, "open")
  }
  yield* checkComplete(serviceDefinition(pkg, BALANCE_SERVICE), balance, BALANCE_SERVICE)
  yield* checkComplete(serviceDefinition(pkg, HEALTH_SERVICE), healthImpl, HEALTH_SERVICE)
  // Every (method, outcome) at 0 from the start: error panels and alerts show 0, not "No data".
  for (const [method, m] of Object.entries(handlers)) initialiseCounter(metrics.grpcRequests, { method: [method], code: answerLabels(m.mode) })
  initialiseCounter(metrics.grpcRequests, { method: ["WatchAccount", ...Object.keys(healthImpl)], code: answerLabels("status") })

  const { port } = yield* Effect.acquireRelease(
    Effect.callback<{ server: grpc.Server; port: number }, GrpcStartError | PortUnavailable>((resume) => {
      const server = new grpc.Server()
      server.addService(serviceDefinition(pkg, BALANCE_SERVICE), balance)
      server.addService(serviceDefinition(pkg, HEALTH_SERVICE), healthImpl)
      // @grpc/reflection bundles its own proto-loader typings; the definition object is the same shape.
      new ReflectionService(pkg as ConstructorParameters<typeof ReflectionService>[0]).addToServer(server)
      server.bindAsync(bindAddress(settings.host, settings.port), credentials, (error, port) => {
        if (error) {
          server.forceShutdown()
          resume(Effect.fail(
            portUnavailable("GRPC_PORT", "GRPC_HOST", settings.host, settings.port, error) ??
              new GrpcStartError({ reason: `${bindAddress(settings.host, settings.port)}: ${error.message}` })
          ))
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
  // grpc-js accepts connections once bindAsync has called back. Released first: /api/ready turns 503 as the drain begins.
  yield* (yield* ListenerReadiness).accepting("grpc")

  yield* Effect.logInfo("grpc listening").pipe(
    Effect.annotateLogs({
      host: settings.host,
      port,
      tls: settings.tls.cert ? (settings.tls.ca ? "mutual" : "server") : "off",
      auth: game,
      admin: settings.admin.disabled ? "open (AUTH_DISABLED)" : "x-admin-key or admin JWT"
    })
  )
  return GrpcServerAddress.of({ host: settings.host, port })
})

/** The gRPC API on GRPC_PORT / GRPC_HOST, configured from the environment. Requires Ledger, Store and AuthSettings. */
export const GrpcServerLayer = Layer.effectDiscard(Effect.flatMap(grpcServerSettings, startGrpcServer))

/** The same server with explicit settings, exposing the bound address (tests bind port 0). */
export const grpcServerLayerWith = (settings: GrpcServerSettings) => Layer.effect(GrpcServerAddress, startGrpcServer(settings))

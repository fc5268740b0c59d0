import { Effect, type Redacted, Schema } from "effect"
import { AppConfig } from "../../config.ts"

/** How the game's calls are authenticated, as the start log line says it. */
export type GameAccess = "bearer" | "mutual-tls" | "loopback-only" | "open (GRPC_ALLOW_UNAUTHENTICATED)" | "open (AUTH_DISABLED)"

/** A start that would let anyone on the network reserve, settle and cash out chips. */
export class GrpcExposedWithoutCredentials extends Schema.TaggedError<GrpcExposedWithoutCredentials>()(
  "GrpcExposedWithoutCredentials",
  { host: Schema.String, port: Schema.Number, authDisabled: Schema.Boolean }
) {
  override get message() {
    if (this.authDisabled) {
      return `gRPC would listen on ${this.host}:${this.port} (beyond loopback) with AUTH_DISABLED=true, which makes every call ` +
        "an admin's and checks no credential (GRPC_AUTH_TOKEN and client certificates included): anyone on the network could mint chips. " +
        "AUTH_DISABLED is for local experiments: set GRPC_HOST=127.0.0.1, or unset AUTH_DISABLED; " +
        "or GRPC_ALLOW_UNAUTHENTICATED=true to accept it on a network you trust"
    }
    return `gRPC would listen on ${this.host}:${this.port} (beyond loopback) with no credential for the game's calls: ` +
      "set GRPC_AUTH_TOKEN (the game then sends metadata authorization: Bearer <token>) " +
      "or GRPC_TLS_CERT + GRPC_TLS_KEY + GRPC_TLS_CA (mutual TLS); " +
      "or GRPC_HOST=127.0.0.1 to serve this machine only; " +
      "or GRPC_ALLOW_UNAUTHENTICATED=true to accept unauthenticated game calls from a network you trust"
  }
}

/** Literal loopback addresses and `localhost`; any other name or address counts as reachable from elsewhere. */
export const isLoopback = (host: string): boolean => {
  const h = host.trim().toLowerCase().replace(/^\[(.*)\]$/, "$1")
  return h === "localhost" || h === "::1" || /^127(\.\d{1,3}){3}$/.test(h) || /^::ffff:127(\.\d{1,3}){3}$/.test(h)
}

export interface ExposureSettings {
  readonly host: string
  readonly port: number
  readonly authToken: Redacted.Redacted<string> | undefined
  /** GRPC_TLS_CA: client certificates are required (with GRPC_TLS_CERT and GRPC_TLS_KEY). */
  readonly clientCertificates: boolean
  readonly allowUnauthenticated: boolean
  readonly authDisabled: boolean
}

/**
 * The game's calls trust their caller, so they need a credential (GRPC_AUTH_TOKEN or
 * mutual TLS) wherever gRPC listens beyond loopback, unless the operator says otherwise.
 */
export const gameAccess = (s: ExposureSettings): Effect.Effect<GameAccess, GrpcExposedWithoutCredentials> => {
  // AUTH_DISABLED first: it overrides every credential (each call is an admin's), so a token or
  // client certificates do not protect anything then; beyond loopback it needs the explicit opt-in.
  if (s.authDisabled) {
    return isLoopback(s.host) || s.allowUnauthenticated
      ? Effect.succeed("open (AUTH_DISABLED)")
      : Effect.fail(new GrpcExposedWithoutCredentials({ host: s.host, port: s.port, authDisabled: true }))
  }
  if (s.authToken !== undefined) return Effect.succeed("bearer")
  if (s.clientCertificates) return Effect.succeed("mutual-tls")
  if (isLoopback(s.host)) return Effect.succeed("loopback-only")
  if (s.allowUnauthenticated) return Effect.succeed("open (GRPC_ALLOW_UNAUTHENTICATED)")
  return Effect.fail(new GrpcExposedWithoutCredentials({ host: s.host, port: s.port, authDisabled: false }))
}

/** The same check from the environment, run before anything starts. */
export const grpcExposureFromConfig = Effect.gen(function*() {
  return yield* gameAccess({
    host: yield* AppConfig.grpcHost,
    port: yield* AppConfig.grpcPort,
    authToken: yield* AppConfig.grpcAuthToken,
    clientCertificates: (yield* AppConfig.grpcTlsCa) !== undefined,
    allowUnauthenticated: yield* AppConfig.grpcAllowUnauthenticated,
    authDisabled: yield* AppConfig.authDisabled
  })
})

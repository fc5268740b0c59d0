import { Cause, Config, Effect } from "effect"
import { grpcExposureFromConfig } from "../api/grpc/grpcExposure.ts"
import { serverCredentials } from "../api/grpc/serverCredentials.ts"
import { AppConfig } from "../config.ts"
import { PortUnavailable, type PortVariable } from "../listeners/PortUnavailable.ts"

/**
 * HTTP, gRPC and metrics each need their own port: two on one would fail the second bind as
 * "in use by another process", which sends the operator looking for a process that is this one.
 */
const distinctPorts = Effect.gen(function*() {
  const ports: ReadonlyArray<readonly [PortVariable, number]> = [
    ["HTTP_PORT", yield* AppConfig.httpPort],
    ["GRPC_PORT", yield* AppConfig.grpcPort],
    ["METRICS_PORT", yield* AppConfig.metricsPort]
  ]
  for (const [i, [variable, port]] of ports.entries()) {
    const earlier = ports.slice(0, i).find(([, p]) => p === port)
    if (earlier !== undefined) {
      return yield* Effect.fail(new PortUnavailable({
        variable,
        host: "",
        port,
        problem: `is also ${earlier[0]}: HTTP, gRPC and metrics each need their own port; set ${variable} to another one`
      }))
    }
  }
})

/**
 * Every setting is read and checked before anything starts, so a start that
 * cannot succeed leaves nothing behind: no admin key generated, no
 * redis-server spawned, nothing half-listening. Includes distinct ports, the refusal to
 * expose gRPC's game calls without a credential, and the gRPC TLS files
 * (missing, unreadable or not a certificate and key).
 */
export const checkSettings = Effect.gen(function*() {
  yield* Config.all(AppConfig)
  yield* distinctPorts
  yield* grpcExposureFromConfig
  yield* serverCredentials({ cert: yield* AppConfig.grpcTlsCert, key: yield* AppConfig.grpcTlsKey, ca: yield* AppConfig.grpcTlsCa })
})

/** `...\n  at ["HTTP_PORT"]` -> `HTTP_PORT: ...`: the variable first, on one line. */
const describeConfigError = (error: Config.ConfigError): string => {
  const text = error.cause.message.replace(/\s*\n\s*/g, " ").trim()
  const at = /^(.*?)\s*at \["([^"\]]+)"\]$/.exec(text)
  return at ? `invalid setting ${at[2]}: ${at[1]}` : `invalid setting: ${text}`
}

/**
 * What a failed start or run says in its one fatal line: a typed failure
 * (bad setting, port in use, TLS file unreadable, Redis unreachable, ...) by
 * its message, which names what to change; no stack trace, it would only
 * point into the service. A defect keeps its cause, stack included.
 */
export const describeFailure = (cause: Cause.Cause<unknown>): { readonly reason: string; readonly tag: string } | undefined => {
  const found = Cause.findErrorOption(cause)
  if (found._tag === "None") return undefined
  const error = found.value
  const tag = typeof error === "object" && error !== null && "_tag" in error ? String(error._tag) : "Error"
  if (error instanceof Config.ConfigError) return { reason: describeConfigError(error), tag }
  return { reason: error instanceof Error ? error.message : String(error), tag }
}

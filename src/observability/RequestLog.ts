import { AppConfig } from "../config.ts"
import { randomUUID } from "node:crypto"
import { Effect, LogLevel, References } from "effect"

/**
 * GRPC_ACCESS_LOG: the one line each gRPC call logs when it completes
 * (method, outcome, duration) is written at Info when true (the default: it
 * cost no measurable throughput), at Debug when false. HTTP has the same
 * switch in HTTP_ACCESS_LOG (config.ts).
 */
export const grpcAccessLogConfig = AppConfig.grpcAccessLog

/** Caller-supplied values end up in logs: bounded and printable ASCII only, else undefined. */
export const printableHeader = (value: string | Buffer | undefined, max: number): string | undefined => {
  if (value === undefined) return undefined
  const s = (typeof value === "string" ? value : value.toString("utf8")).trim()
  return s.length > 0 && s.length <= max && /^[\x20-\x7e]+$/.test(s) ? s : undefined
}

/** The caller's x-request-id when it is usable, otherwise a fresh one. */
export const requestIdOf = (header: string | Buffer | undefined): string => printableHeader(header, 128) ?? randomUUID()

/** Seconds to milliseconds with microsecond precision, for the `durationMs` field. */
export const millis = (seconds: number) => Math.round(seconds * 1e6) / 1e3

type Fields = Readonly<Record<string, string | number>>

/**
 * The completion line of one request, at Info (`atInfo`) or Debug. Checks
 * the level first, so a line below LOG_LEVEL costs neither the annotation
 * record nor the logger; given as a function, `fields` is not even built then.
 */
export const logCompletion = (
  atInfo: boolean,
  message: string | ReadonlyArray<string>,
  fields: Fields | (() => Fields)
): Effect.Effect<void> =>
  Effect.withFiber((fiber) => {
    const level = atInfo ? "Info" : "Debug"
    if (LogLevel.isGreaterThan(fiber.getRef(References.MinimumLogLevel), level)) return Effect.void
    return Effect.annotateLogs(
      Effect.logWithLevel(level)(...(typeof message === "string" ? [message] : message)),
      typeof fields === "function" ? fields() : fields
    )
  })

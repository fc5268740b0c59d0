import { Cause, Context, Effect, Layer, Logger, References, Tracer } from "effect"
import { AppConfig } from "../config.ts"

const JWT = /eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g
/** A bearer token; not a placeholder such as `<token>` in advice the service prints (it would garble it). */
const BEARER = /(bearer\s+)(?!<[^<>"\\]*>)[^\s"\\]+/gi

/**
 * Last line of defence for credentials: nothing logs request headers or
 * metadata, but an error message could still quote a token. JWTs (three
 * base64url segments starting with `eyJ`) and `Bearer <token>` become
 * `<redacted>`. Both checks are plain substring tests on clean lines.
 */
export const scrubSecrets = (line: string): string => {
  let out = line
  if (out.includes("eyJ")) out = out.replace(JWT, "<redacted-jwt>")
  if (/bearer/i.test(out)) out = out.replace(BEARER, "$1<redacted>")
  return out
}

/** Errors would serialize as `{}`: they become `Name: message` (a cause passed as such keeps its stack in `cause`). */
const partOf = (part: unknown): unknown => (part instanceof Error ? String(part) : part)

/** `Effect.log("grpc call refused", "INVALID_AMOUNT")` -> "grpc call refused INVALID_AMOUNT"; other values stay as given. */
const messageOf = (message: unknown): unknown => {
  if (!Array.isArray(message)) return partOf(message)
  if (message.length === 1) return partOf(message[0])
  const parts = message.map(partOf)
  return parts.every((m) => typeof m === "string") ? parts.join(" ") : parts
}

/**
 * One JSON object per line: timestamp, level, message, the trace and span
 * ids of the current span (so a log line joins its trace), and the fiber's
 * annotations (requestId, method, outcome, durationMs, …). `write` gets each
 * line with its newline (stdout in the service, an array in tests).
 */
export const makeJsonLogger = (write: (line: string) => void, fields: Readonly<Record<string, string>> = {}) =>
  Logger.make((options) => {
    const span = Context.getOrUndefined(options.fiber.context, Tracer.ParentSpan)
    const annotations = options.fiber.getRef(References.CurrentLogAnnotations)
    const message = messageOf(options.message)
    const line: Record<string, unknown> = {
      timestamp: options.date.toISOString(),
      level: options.logLevel.toUpperCase(),
      message,
      ...(span ? { traceId: span.traceId, spanId: span.spanId } : {}),
      ...fields,
      ...annotations
    }
    if (options.cause.reasons.length > 0) line.cause = Cause.pretty(options.cause)
    write(`${scrubSecrets(JSON.stringify(line))}\n`)
  })

/**
 * Lines written in the same event-loop turn go out as one stdout write at
 * the end of the turn (one syscall instead of one per line: the write was
 * most of a line's cost under load). Pending lines are written synchronously
 * when the process exits, so a fatal line is never lost.
 */
export const makeBatchedWriter = (out: (chunk: string) => void) => {
  let pending: Array<string> = []
  let scheduled = false
  const flush = () => {
    scheduled = false
    if (pending.length === 0) return
    const chunk = pending.length === 1 ? pending[0]! : pending.join("")
    pending = []
    out(chunk)
  }
  const write = (line: string) => {
    pending.push(line)
    if (!scheduled) {
      scheduled = true
      setImmediate(flush)
    }
  }
  return { write, flush }
}

/**
 * Whether stdout still has a reader. When the reader of a pipe goes away (`npm start | jq` and
 * jq is gone), writes fail with EPIPE, emitted as an unhandled 'error' that would crash the
 * service mid-call and leave its private redis-server behind: the lines are dropped instead,
 * and the service keeps serving and stops as usual.
 */
let stdoutOpen = true
process.stdout.on("error", (e: NodeJS.ErrnoException) => {
  if (e.code !== "EPIPE") throw e
  stdoutOpen = false
})
const stdoutWriter = makeBatchedWriter((chunk) => {
  if (stdoutOpen) process.stdout.write(chunk)
})
process.once("exit", stdoutWriter.flush)

/**
 * `service` is a field of the logger, not a log annotation around the program: HttpApi runs each
 * handler in the context its layer was built in, so an annotation present at build time would
 * replace the request's own (its requestId) in every line a handler writes.
 */
export const jsonLogger = makeJsonLogger(stdoutWriter.write, { service: "balance-service" })

/** The JSON logger with LOG_LEVEL (default Info) as the minimum level. */
export const layer = Layer.mergeAll(
  Logger.layer([jsonLogger]),
  Layer.unwrap(Effect.gen(function*() {
    return Layer.succeed(References.MinimumLogLevel, yield* AppConfig.logLevel)
  }))
)

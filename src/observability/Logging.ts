import { Cause, Context, Effect, Layer, Logger, References, Tracer } from "effect"
import { AppConfig } from "../config.ts"

/**
 * One JSON object per line on stdout: timestamp, level, message, the trace
 * and span ids of the current span (so a log line joins its trace), and the
 * fiber's annotations (requestId, method, …).
 */
export const jsonLogger = Logger.make((options) => {
  const span = Context.getOrUndefined(options.fiber.context, Tracer.ParentSpan)
  const annotations = options.fiber.getRef(References.CurrentLogAnnotations)
  const message = Array.isArray(options.message) && options.message.length === 1 ? options.message[0] : options.message
  const line: Record<string, unknown> = {
    timestamp: options.date.toISOString(),
    level: options.logLevel.toUpperCase(),
    message,
    ...(span ? { traceId: span.traceId, spanId: span.spanId } : {}),
    ...annotations
  }
  if (options.cause.reasons.length > 0) line.cause = Cause.pretty(options.cause)
  process.stdout.write(`${JSON.stringify(line)}\n`)
})

export const LoggingLayer = Layer.mergeAll(
  Logger.layer([jsonLogger]),
  Layer.unwrap(Effect.gen(function*() {
    return Layer.succeed(References.MinimumLogLevel, yield* AppConfig.logLevel)
  }))
)

import { Effect, Layer, Logger, References } from "effect"
import { AppConfig } from "../config.ts"

/** One JSON object per line on stdout, at LOG_LEVEL. */
export const LoggingLayer = Layer.mergeAll(
  Logger.layer([Logger.consoleJson]),
  Layer.unwrap(Effect.gen(function*() {
    return Layer.succeed(References.MinimumLogLevel, yield* AppConfig.logLevel)
  }))
)

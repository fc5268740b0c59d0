/**
 * Observability hooks. The core depends on no telemetry library: it reports
 * events and opens spans through these two interfaces. `openTelemetry()`
 * (./openTelemetry.ts) adapts them to the OpenTelemetry API; a game server may
 * plug in its own (prom-client, StatsD, logs).
 */

export type CallOutcome = "ok" | "refused" | "unavailable" | "error"

/** Everything the client counts. Gauges carry their current value. */
export type ClientEvent =
  | { readonly type: "call"; readonly method: string; readonly outcome: CallOutcome; readonly attempts: number; readonly durationMs: number; readonly code?: string }
  | { readonly type: "retry"; readonly method: string; readonly attempt: number; readonly grpcCode: number; readonly endpoint: string }
  | { readonly type: "retry-budget-exhausted"; readonly method: string }
  | { readonly type: "breaker"; readonly state: "closed" | "open" | "half-open" }
  | { readonly type: "endpoint-health"; readonly endpoint: string; readonly healthy: boolean }
  | { readonly type: "decision"; readonly mode: string; readonly movement: string; readonly decision: string }
  | { readonly type: "journal"; readonly pending: number; readonly oldestAgeMs: number; readonly bytes: number }
  | { readonly type: "journal-appended"; readonly movement: string; readonly cause: string }
  | { readonly type: "journal-replayed"; readonly movement: string; readonly outcome: "applied" | "refused" }
  | { readonly type: "shadow-divergence"; readonly kind: string; readonly movement: string }
  | { readonly type: "shadow-dropped"; readonly movement: string }

export interface SpanHandle {
  readonly setAttribute: (key: string, value: string | number | boolean) => void
  readonly addEvent: (name: string, attributes?: Readonly<Record<string, string | number | boolean>>) => void
  /** Ends the span; `error` marks it failed. */
  readonly end: (error?: { readonly message: string }) => void
  /** Headers that carry the span to the service (W3C `traceparent`), added to each attempt's metadata. */
  readonly propagationHeaders: () => Readonly<Record<string, string>>
}

export interface ClientTelemetry {
  readonly startSpan: (name: string, attributes: Readonly<Record<string, string | number | boolean>>) => SpanHandle
  readonly onEvent: (event: ClientEvent) => void
}

const noSpan: SpanHandle = { setAttribute: () => {}, addEvent: () => {}, end: () => {}, propagationHeaders: () => ({}) }

export const noTelemetry: ClientTelemetry = { startSpan: () => noSpan, onEvent: () => {} }

export type LogLevel = "debug" | "info" | "warn" | "error"
export type ClientLogger = (level: LogLevel, message: string, fields?: Readonly<Record<string, unknown>>) => void

/**
 * The game's logger, made unable to throw: a decision already journaled (permitted offline) must
 * reach the game, not an exception from its own logging (the game could retry it with a new key).
 */
export const guardedLogger = (logger: ClientLogger): ClientLogger => (level, message, fields) => {
  try {
    logger(level, message, fields)
  } catch {
    // Logging only.
  }
}

/** JSON lines on stderr, warn and above: the journal's and the breaker's news reach the operator by default. */
export const stderrLogger = (minimum: LogLevel = "warn"): ClientLogger => {
  const order: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 }
  return (level, message, fields) => {
    if (order[level] < order[minimum]) return
    process.stderr.write(`${JSON.stringify({ timestamp: new Date().toISOString(), level, component: "balance-client", message, ...fields })}\n`)
  }
}

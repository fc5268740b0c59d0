import type * as OtelApi from "@opentelemetry/api"
import type { ClientEvent, ClientTelemetry } from "./telemetry.ts"

/**
 * Telemetry hooks on the OpenTelemetry API. Pass the `@opentelemetry/api`
 * module the game already uses (an optional peer dependency: this package
 * imports only its types), so spans join the game's traces and the metrics its
 * meter provider exports:
 *
 *   import * as otel from "@opentelemetry/api"
 *   createBalanceClient({ ..., telemetry: openTelemetry(otel) })
 *
 * Spans: one client span per call (`balance.BalanceService/<Method>`, retries
 * as events), its context sent as `traceparent` so the service's span is its
 * child. Metrics: the counters and gauges listed in the package README.
 */
export const openTelemetry = (api: typeof OtelApi, name = "@balance/client"): ClientTelemetry => {
  const tracer = api.trace.getTracer(name)
  const meter = api.metrics.getMeter(name)
  const calls = meter.createCounter("balance_client_calls_total", { description: "Calls by method and outcome (ok, refused, unavailable, error)" })
  const duration = meter.createHistogram("balance_client_call_duration_ms", { description: "Call duration including retries", unit: "ms" })
  const retries = meter.createCounter("balance_client_retries_total", { description: "Retried attempts by method and gRPC status" })
  const budget = meter.createCounter("balance_client_retry_budget_exhausted_total", { description: "Retries refused by the retry budget" })
  const breaker = meter.createCounter("balance_client_breaker_transitions_total", { description: "Circuit breaker transitions by new state" })
  const decisions = meter.createCounter("balance_client_decisions_total", { description: "Game movements by mode and decision" })
  const appended = meter.createCounter("balance_client_journal_appended_total", { description: "Movements permitted offline (journaled) by cause" })
  const replayed = meter.createCounter("balance_client_journal_replayed_total", { description: "Journaled movements replayed, by outcome (applied, refused)" })
  const divergences = meter.createCounter("balance_client_shadow_divergences_total", { description: "Shadow-mode divergences by kind" })
  let journal = { pending: 0, oldestAgeMs: 0, bytes: 0 }
  const gauge = meter.createObservableGauge("balance_client_journal_pending", { description: "Journaled movements not yet applied or refused" })
  const age = meter.createObservableGauge("balance_client_journal_oldest_age_seconds", { description: "Age of the oldest pending journaled movement", unit: "s" })
  const bytes = meter.createObservableGauge("balance_client_journal_bytes", { description: "Size of the reconciliation journal file", unit: "By" })
  meter.addBatchObservableCallback((r) => {
    r.observe(gauge, journal.pending)
    r.observe(age, journal.oldestAgeMs / 1000)
    r.observe(bytes, journal.bytes)
  }, [gauge, age, bytes])

  const onEvent = (e: ClientEvent) => {
    switch (e.type) {
      case "call":
        calls.add(1, { method: e.method, outcome: e.outcome })
        duration.record(e.durationMs, { method: e.method, outcome: e.outcome })
        return
      case "retry":
        return retries.add(1, { method: e.method, grpc_code: e.grpcCode })
      case "retry-budget-exhausted":
        return budget.add(1, { method: e.method })
      case "breaker":
        return breaker.add(1, { state: e.state })
      case "decision":
        return decisions.add(1, { mode: e.mode, movement: e.movement, decision: e.decision })
      case "journal":
        journal = { pending: e.pending, oldestAgeMs: e.oldestAgeMs, bytes: e.bytes }
        return
      case "journal-appended":
        return appended.add(1, { movement: e.movement, cause: e.cause })
      case "journal-replayed":
        return replayed.add(1, { movement: e.movement, outcome: e.outcome })
      case "shadow-divergence":
        return divergences.add(1, { kind: e.kind, movement: e.movement })
      default:
        return
    }
  }

  return {
    onEvent,
    startSpan: (spanName, attributes) => {
      const span = tracer.startSpan(spanName, { kind: api.SpanKind.CLIENT, attributes: { ...attributes } })
      const ctx = api.trace.setSpan(api.context.active(), span)
      return {
        setAttribute: (k, v) => void span.setAttribute(k, v),
        addEvent: (n, a) => void span.addEvent(n, a),
        end: (error) => {
          if (error !== undefined) span.setStatus({ code: api.SpanStatusCode.ERROR, message: error.message })
          span.end()
        },
        propagationHeaders: () => {
          const carrier: Record<string, string> = {}
          api.propagation.inject(ctx, carrier)
          // Without a registered propagator (no SDK), still send the span's W3C context.
          if (carrier.traceparent === undefined && span.spanContext().traceId !== api.INVALID_TRACEID) {
            const sc = span.spanContext()
            carrier.traceparent = `00-${sc.traceId}-${sc.spanId}-0${(sc.traceFlags & 1).toString(16)}`
          }
          return carrier
        }
      }
    }
  }
}

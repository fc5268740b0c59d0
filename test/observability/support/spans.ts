import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import { tracingLayerWith } from "../../../src/observability/Tracing.ts"

/** The service's OpenTelemetry setup (NodeSdk, resource balance-service) with finished spans kept in memory. */
export const inMemoryTracing = () => {
  const exporter = new InMemorySpanExporter()
  return { exporter, layer: tracingLayerWith(new SimpleSpanProcessor(exporter)) }
}

export const spansOfTrace = (exporter: InMemorySpanExporter, traceId: string): ReadonlyArray<ReadableSpan> =>
  exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId)

export const parentIdOf = (span: ReadableSpan): string | undefined => span.parentSpanContext?.spanId

/**
 * The trace as indented lines, children in start order:
 * `grpc.ReserveForBuyIn` / `  Ledger.execute.Reserve` / `    Store.apply`.
 * Roots are spans whose parent is not in `spans` (e.g. the caller's).
 * With `ids`, each line also shows span id and parent id.
 */
export const renderTree = (spans: ReadonlyArray<ReadableSpan>, ids = false): ReadonlyArray<string> => {
  const known = new Set(spans.map((s) => s.spanContext().spanId))
  const byStart = [...spans].sort((a, b) => a.startTime[0] - b.startTime[0] || a.startTime[1] - b.startTime[1])
  const out: Array<string> = []
  const walk = (span: ReadableSpan, depth: number) => {
    const suffix = ids ? ` (spanId ${span.spanContext().spanId}, parent ${parentIdOf(span) ?? "none"})` : ""
    out.push(`${"  ".repeat(depth)}${span.name}${suffix}`)
    for (const child of byStart.filter((s) => parentIdOf(s) === span.spanContext().spanId)) walk(child, depth + 1)
  }
  for (const root of byStart.filter((s) => !known.has(parentIdOf(s) ?? ""))) walk(root, 0)
  return out
}

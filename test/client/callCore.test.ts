import { afterEach, assert, describe, it } from "@effect/vitest"
import * as grpc from "@grpc/grpc-js"
import * as otel from "@opentelemetry/api"
import { AggregationTemporality, MeterProvider, MetricReader } from "@opentelemetry/sdk-metrics"
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import { BalanceCallError, BalanceClient, BalanceUnavailable, openTelemetry } from "../../client/src/index.ts"
import { eventually } from "../support/eventually.ts"
import { startScriptedServer } from "./support/scriptedServer.ts"

/**
 * What each attempt of a call carries, seen by a scripted server: the same
 * idempotency key on every retry (made by the client when the caller gave
 * none), a real gRPC deadline, which statuses are retried, and the trace
 * context of the client's span.
 */

const cleanups: Array<() => void> = []
afterEach(() => {
  for (const c of cleanups.splice(0)) c()
})
const scripted = async (script: Parameters<typeof startScriptedServer>[0]) => {
  const s = await startScriptedServer(script)
  cleanups.push(s.close)
  return s
}
const clientOf = (address: string, overrides: Partial<ConstructorParameters<typeof BalanceClient>[0]> = {}) => {
  const c = new BalanceClient({ addresses: [address], healthCheck: false, retry: { baseDelayMs: 1, maxDelayMs: 5 }, ...overrides })
  cleanups.push(() => c.close())
  return c
}
const OK_CONTRIBUTION = { ok: true, total_pot: "1", seat_contribution: "1", stack_balance: "9", transaction_id: "tx-1" }
const CONTRIBUTION = { table_id: "t", hand_id: "h", seat_id: 1, account_id: "a", amount: 1, contribution_type: "BET" } as const

describe("the call core", () => {
  it("retries UNAVAILABLE, DEADLINE_EXCEEDED and ABORTED with the same generated idempotency key", async () => {
    const statuses = [grpc.status.UNAVAILABLE, grpc.status.ABORTED, grpc.status.DEADLINE_EXCEEDED]
    const s = await scripted((_call, attempt) => (attempt <= statuses.length ? { status: statuses[attempt - 1]! } : { response: OK_CONTRIBUTION }))
    const r = await clientOf(s.address).checked("RecordContribution", CONTRIBUTION)
    assert.strictEqual(r.transaction_id, "tx-1")
    const keys = s.received.map((c) => c.request.idempotency_key as string)
    assert.strictEqual(keys.length, 4)
    assert.strictEqual(new Set(keys).size, 1, `one key for every attempt: ${keys.join(", ")}`)
    assert.match(keys[0]!, /^[0-9a-f-]{36}$/)

    // A key the caller gives is the one sent; a second call gets a key of its own.
    await clientOf(s.address).call("RecordContribution", { ...CONTRIBUTION, idempotency_key: "game-key-1" })
    assert.strictEqual(s.received.at(-1)!.request.idempotency_key, "game-key-1")
  })

  it("does not retry what retrying cannot fix, and reports it apart from unavailability", async () => {
    const s = await scripted(() => ({ status: grpc.status.UNAUTHENTICATED }))
    const e = await clientOf(s.address).call("GetBalance", { account_id: "a" }).then(() => undefined, (x: unknown) => x)
    assert.instanceOf(e, BalanceCallError)
    assert.strictEqual((e as BalanceCallError).grpcCode, grpc.status.UNAUTHENTICATED)
    assert.strictEqual(s.received.length, 1)
  })

  it("sends a real gRPC deadline per attempt: the server sees it and the hung call is cancelled when it passes", async () => {
    const s = await scripted(() => "hang")
    const client = clientOf(s.address, { attemptTimeoutMs: 300, callTimeoutMs: 5_000, retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 1 } })
    const sentAt = Date.now()
    const e = await client.call("GetBalance", { account_id: "a" }).then(() => undefined, (x: unknown) => x as BalanceUnavailable)
    assert.instanceOf(e, BalanceUnavailable)
    assert.strictEqual(e!.grpcCode, grpc.status.DEADLINE_EXCEEDED)
    assert.strictEqual(e!.attempts, 2)
    assert.strictEqual(s.received.length, 2)
    for (const c of s.received) {
      const deadline = c.deadline instanceof Date ? c.deadline.getTime() : Number(c.deadline)
      // The server's view of the deadline, from the grpc-timeout header: about 300 ms after the attempt began (never unbounded).
      assert.isTrue(Number.isFinite(deadline) && deadline > sentAt && deadline < sentAt + 5_000, `deadline ${deadline}`)
    }
    await eventually("the server saw each hung attempt end at its deadline", () => (s.received.every((c) => c.cancelled) ? true : undefined), { timeoutMs: 5_000, intervalMs: 10 })
  })

  it("gives up after maxAttempts, and the retry budget caps retries client-wide", async () => {
    const s = await scripted(() => ({ status: grpc.status.UNAVAILABLE }))
    const client = clientOf(s.address, {
      retry: { maxAttempts: 5, baseDelayMs: 1, maxDelayMs: 1, budget: { ratio: 0, minRetriesPerSecond: 0.3, windowMs: 10_000 } },
      breaker: { failureThreshold: 1_000 }
    })
    const first = await client.call("GetBalance", { account_id: "a" }).then(() => undefined, (x: unknown) => x as BalanceUnavailable)
    // 0.3 retries/s over 10 s = 3 retries in the budget: the first call may use them all (4 attempts), the next gets none.
    assert.strictEqual(first!.reason, "retry-budget")
    assert.strictEqual(first!.attempts, 4)
    const second = await client.call("GetBalance", { account_id: "a" }).then(() => undefined, (x: unknown) => x as BalanceUnavailable)
    assert.strictEqual(second!.reason, "retry-budget")
    assert.strictEqual(second!.attempts, 1)
  })

  it("opens a client span per call and sends its context as traceparent; counts calls and retries as OTel metrics", async () => {
    const exporter = new InMemorySpanExporter()
    otel.trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }))
    cleanups.push(() => otel.trace.disable())
    const reader = new (class extends MetricReader {
      constructor() {
        super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE })
      }
      protected override onShutdown = async () => {}
      protected override onForceFlush = async () => {}
    })()
    otel.metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }))
    cleanups.push(() => otel.metrics.disable())
    const events: Array<string> = []
    const telemetry = openTelemetry(otel)
    const s = await scripted((_c, attempt) => (attempt === 1 ? { status: grpc.status.UNAVAILABLE } : { response: { account_id: "a", balance: "5" } }))
    const client = clientOf(s.address, {
      telemetry: {
        startSpan: telemetry.startSpan,
        onEvent: (e) => {
          events.push(e.type)
          telemetry.onEvent(e)
        }
      }
    })
    await client.call("GetBalance", { account_id: "a" })
    const [span] = exporter.getFinishedSpans()
    assert.strictEqual(span!.name, "balance.BalanceService/GetBalance")
    assert.strictEqual(span!.attributes["rpc.method"], "GetBalance")
    assert.strictEqual(span!.attributes["balance.attempts"], 2)
    assert.deepStrictEqual(span!.events.map((e) => e.name), ["retry"])
    const traceparent = s.received.map((c) => String(c.metadata.get("traceparent")[0]))
    assert.strictEqual(traceparent.length, 2)
    for (const t of traceparent) assert.include(t, span!.spanContext().traceId)
    // The failed attempt also marked the instance unhealthy, and the next one healthy again.
    assert.deepStrictEqual(events, ["endpoint-health", "retry", "endpoint-health", "call"])
    const { resourceMetrics } = await reader.collect()
    const sums = Object.fromEntries(resourceMetrics.scopeMetrics.flatMap((sm) => sm.metrics).map((m) => [
      m.descriptor.name,
      m.dataPoints.map((d) => [JSON.stringify(d.attributes), typeof d.value === "number" ? d.value : (d.value as { count: number }).count])
    ]))
    assert.deepStrictEqual(sums.balance_client_calls_total, [[JSON.stringify({ method: "GetBalance", outcome: "ok" }), 1]])
    assert.deepStrictEqual(sums.balance_client_retries_total, [[JSON.stringify({ method: "GetBalance", grpc_code: grpc.status.UNAVAILABLE }), 1]])
  })
})

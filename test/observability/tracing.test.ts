import { assert, layer } from "@effect/vitest"
import { SpanKind, SpanStatusCode } from "@opentelemetry/api"
import { Effect, Layer } from "effect"
import { MemoryStore } from "../../src/store/memory/MemoryStore.ts"
import { RedisStore } from "../../src/store/redis/RedisStore.ts"
import type { Store } from "../../src/store/Store.ts"
import { call, eventually } from "../grpc/support/expectations.ts"
import { call as httpCall } from "../http/support/client.ts"
import { ADMIN_KEY } from "../http/support/testServer.ts"
import { makeFaultyStore } from "../support/faultyStore.ts"
import { TestRedis } from "../support/redisServer.ts"
import { CapturedLogs, httpBaseUrl, observedApp } from "./support/observedApp.ts"
import { inMemoryTracing, parentIdOf, renderTree, spansOfTrace } from "./support/spans.ts"

let traces = 0
/** A caller's trace: fresh trace id, the caller's span id, sampled. */
const callerTrace = () => {
  const n = (++traces).toString(16).padStart(4, "0")
  const traceId = `4bf92f3577b34da6a3ce929d0e0e${n}`
  const spanId = `00f067aa0ba9${n}`
  return { traceId, spanId, traceparent: `00-${traceId}-${spanId}-01` }
}

const waitForSpan = (exporter: ReturnType<typeof inMemoryTracing>["exporter"], traceId: string, name: string) =>
  eventually(`span ${name} exported`, Effect.sync(() => spansOfTrace(exporter, traceId).some((s) => s.name === name)))

const logsOfRequest = (requestId: string) =>
  Effect.map(CapturedLogs, (logs) => logs.lines().filter((l) => l.requestId === requestId))

const grpcSuite = <E>(label: string, store: Layer.Layer<Store, E>, storeTree: ReadonlyArray<string>) => {
  const tracing = inMemoryTracing()
  layer(observedApp(store).pipe(Layer.provide(tracing.layer)), { excludeTestServices: true })(
    `OpenTelemetry spans of a gRPC call (${label})`,
    (it) => {
      it.effect("ReserveForBuyIn: server span child of the caller's traceparent, ledger span below it, store call below that; its logs carry the trace id", () =>
        Effect.gen(function*() {
          yield* call("EnsureAccount", { account_id: "tr-a", initial_balance: "1000" })
          const caller = callerTrace()
          const reply = yield* call(
            "ReserveForBuyIn",
            { account_id: "tr-a", table_id: "t1", amount: "300", idempotency_key: "tr-k1" },
            { traceparent: caller.traceparent, "x-request-id": "req-trace-grpc" }
          )
          assert.isTrue(reply.ok)
          yield* waitForSpan(tracing.exporter, caller.traceId, "grpc.ReserveForBuyIn")
          const spans = spansOfTrace(tracing.exporter, caller.traceId)

          const server = spans.find((s) => s.name === "grpc.ReserveForBuyIn")!
          assert.strictEqual(parentIdOf(server), caller.spanId, "the caller's span is the parent")
          assert.strictEqual(server.kind, SpanKind.SERVER)
          assert.strictEqual(server.attributes["rpc.method"], "ReserveForBuyIn")
          assert.strictEqual(server.attributes["rpc.outcome"], "OK")
          assert.strictEqual(server.attributes["request.id"], "req-trace-grpc")
          assert.strictEqual(server.resource.attributes["service.name"], "balance-service")

          const ledger = spans.find((s) => s.name === "Ledger.execute.Reserve")!
          assert.strictEqual(parentIdOf(ledger), server.spanContext().spanId)
          const apply = spans.find((s) => s.name === "Store.apply")!
          assert.strictEqual(parentIdOf(apply), ledger.spanContext().spanId)
          assert.strictEqual(apply.kind, SpanKind.CLIENT)
          assert.deepStrictEqual(renderTree(spans), ["grpc.ReserveForBuyIn", "  Ledger.execute.Reserve", ...storeTree])

          const lines = yield* logsOfRequest("req-trace-grpc")
          const completion = lines.find((l) => l.message === "grpc call")!
          assert.isDefined(completion, "the completion line")
          assert.deepInclude(completion, {
            level: "INFO",
            traceId: caller.traceId,
            spanId: server.spanContext().spanId,
            method: "ReserveForBuyIn",
            outcome: "OK",
            rpc: "balance.BalanceService/ReserveForBuyIn"
          })
          assert.isNumber(completion.durationMs)
          for (const line of lines) assert.strictEqual(line.traceId, caller.traceId, JSON.stringify(line))
        }))
    }
  )
}

grpcSuite("memory store", MemoryStore.layer, ["    Store.apply"])
grpcSuite(
  "redis store",
  Layer.unwrap(
    Effect.map(TestRedis, (server) =>
      RedisStore.layer({ url: server.url, keyPrefix: "obs-trace:", commandTimeoutMs: 1000, retryAttempts: 2, eventsMaxLen: 10_000 }))
  ).pipe(Layer.provide(TestRedis.layer)),
  ["    Store.apply"]
)

const failingTracing = inMemoryTracing()
const failing = makeFaultyStore()
layer(observedApp(failing.layer).pipe(Layer.provide(failingTracing.layer)), { excludeTestServices: true })(
  "the status of a gRPC call's server span",
  (it) => {
    it.effect("an in-band refusal is a normal answer (span status UNSET, not ERROR); UNAVAILABLE and INTERNAL mark the server span as failed", () =>
      Effect.gen(function*() {
        yield* call("EnsureAccount", { account_id: "st-a", initial_balance: "10" })
        const serverSpanOf = (method: string, request: Record<string, unknown>) =>
          Effect.gen(function*() {
            const caller = callerTrace()
            yield* Effect.exit(call(method, request, { traceparent: caller.traceparent }))
            yield* waitForSpan(failingTracing.exporter, caller.traceId, `grpc.${method}`)
            return spansOfTrace(failingTracing.exporter, caller.traceId).find((s) => s.name === `grpc.${method}`)!
          })
        const refused = yield* serverSpanOf("Withdraw", { account_id: "st-a", amount: "11", idempotency_key: "st-w1", reason: "x" })
        assert.strictEqual(refused.attributes["rpc.outcome"], "INSUFFICIENT_BALANCE")
        // Not an error: since @effect/opentelemetry 4.1.5 a span that ends well keeps the status
        // UNSET (what the OTel spec asks of instrumentation), where 4.1.0 set OK.
        assert.strictEqual(refused.status.code, SpanStatusCode.UNSET)
        failing.set("down")
        const unavailable = yield* serverSpanOf("Withdraw", { account_id: "st-a", amount: "1", idempotency_key: "st-w2", reason: "x" })
        failing.set("defect")
        const internal = yield* serverSpanOf("ReserveForBuyIn", { account_id: "st-a", table_id: "t", amount: "1", idempotency_key: "st-r1" })
        failing.set("none")
        assert.strictEqual(unavailable.attributes["rpc.outcome"], "UNAVAILABLE")
        assert.strictEqual(unavailable.status.code, SpanStatusCode.ERROR)
        assert.include(unavailable.status.message ?? "", "UNAVAILABLE")
        assert.strictEqual(internal.attributes["rpc.outcome"], "INTERNAL")
        assert.strictEqual(internal.status.code, SpanStatusCode.ERROR)
      }))
  }
)

const httpTracing = inMemoryTracing()
layer(observedApp(MemoryStore.layer).pipe(Layer.provide(httpTracing.layer)), { excludeTestServices: true })(
  "OpenTelemetry spans of an HTTP request",
  (it) => {
    it.effect("POST deposit: server span named by route, child of the traceparent header, ledger and store spans below; x-request-id echoed and logged", () =>
      Effect.gen(function*() {
        const base = yield* httpBaseUrl
        const created = yield* Effect.promise(() =>
          httpCall(base, "POST", "/api/accounts/tr-h", { adminKey: ADMIN_KEY, body: { initialBalance: 10 } }))
        assert.strictEqual(created.status, 201)
        const caller = callerTrace()
        const reply = yield* Effect.promise(() =>
          httpCall(base, "POST", "/api/accounts/tr-h/deposit", {
            adminKey: ADMIN_KEY,
            body: { amount: 40, source: "PURCHASE" },
            headers: { "idempotency-key": "tr-dep-1", traceparent: caller.traceparent, "x-request-id": "req-trace-http" }
          }))
        assert.strictEqual(reply.status, 200)
        assert.strictEqual(reply.headers.get("x-request-id"), "req-trace-http")

        const name = "POST /api/accounts/:accountId/deposit"
        yield* waitForSpan(httpTracing.exporter, caller.traceId, name)
        const spans = spansOfTrace(httpTracing.exporter, caller.traceId)
        const server = spans.find((s) => s.name === name)!
        assert.strictEqual(parentIdOf(server), caller.spanId)
        assert.strictEqual(server.kind, SpanKind.SERVER)
        assert.strictEqual(server.attributes["http.route"], "/api/accounts/:accountId/deposit")
        assert.strictEqual(server.attributes["http.response.status_code"], 200)
        assert.strictEqual(server.attributes["request.id"], "req-trace-http")
        const ledger = spans.find((s) => s.name === "Ledger.execute.Deposit")!
        assert.strictEqual(parentIdOf(ledger), server.spanContext().spanId)
        assert.strictEqual(parentIdOf(spans.find((s) => s.name === "Store.apply")!), ledger.spanContext().spanId)

        const lines = yield* logsOfRequest("req-trace-http")
        const completion = lines.find((l) => l.message === "http request")!
        assert.deepInclude(completion, {
          level: "INFO",
          traceId: caller.traceId,
          spanId: server.spanContext().spanId,
          method: "POST",
          route: "/api/accounts/:accountId/deposit",
          outcome: 200
        })
        for (const line of lines) assert.strictEqual(line.traceId, caller.traceId)
      }))

    it.effect("without a traceparent each request starts its own trace and gets a generated request id", () =>
      Effect.gen(function*() {
        const base = yield* httpBaseUrl
        const reply = yield* Effect.promise(() => httpCall(base, "GET", "/api/health"))
        assert.strictEqual(reply.status, 200)
        const requestId = reply.headers.get("x-request-id")!
        assert.match(requestId, /^[0-9a-f-]{36}$/)
        const [line] = yield* logsOfRequest(requestId)
        assert.isDefined(line)
        const span = httpTracing.exporter.getFinishedSpans().find((s) => s.attributes["request.id"] === requestId)!
        assert.strictEqual(span.name, "GET /api/health")
        assert.isUndefined(parentIdOf(span))
        assert.strictEqual(line!.traceId, span.spanContext().traceId)
      }))
  }
)

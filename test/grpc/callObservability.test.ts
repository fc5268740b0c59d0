import { assert, layer } from "@effect/vitest"
import { Effect, Layer, Logger, Option, References, Tracer } from "effect"
import { MemoryStore } from "../../src/store/memory/MemoryStore.ts"
import { call, eventually, refusedWith } from "./support/expectations.ts"
import { grpcServerOn } from "./support/grpcTestServer.ts"

const spans: Array<Tracer.NativeSpan> = []
const RecordingTracer = Layer.succeed(
  Tracer.Tracer,
  Tracer.make({
    span(options) {
      const span = new Tracer.NativeSpan(options)
      spans.push(span)
      return span
    }
  })
)

const logs: Array<{ readonly message: string; readonly annotations: Readonly<Record<string, unknown>> }> = []
const RecordingLogger = Layer.mergeAll(
  Logger.layer([
    Logger.make(({ message, fiber }) =>
      void logs.push({
        message: (Array.isArray(message) ? message : [message]).join(" "),
        annotations: fiber.getRef(References.CurrentLogAnnotations)
      }))
  ]),
  Layer.succeed(References.MinimumLogLevel, "Debug")
)

const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
const PARENT_SPAN_ID = "00f067aa0ba902b7"
const headers = { "x-request-id": "req-42", traceparent: `00-${TRACE_ID}-${PARENT_SPAN_ID}-01` }

layer(grpcServerOn(MemoryStore.layer).pipe(Layer.provide([RecordingTracer, RecordingLogger])), { excludeTestServices: true })(
  "gRPC calls are traced and logged with the caller's ids",
  (it) => {
    it.effect("each call runs in a span grpc.<Method>, child of the caller's traceparent, tagged with x-request-id and the outcome", () =>
      Effect.gen(function*() {
        yield* call("ReserveForBuyIn", { account_id: "ob-a", table_id: "t", amount: "0", idempotency_key: "k" }, headers)
        const span = spans.find((s) => s.name === "grpc.ReserveForBuyIn")
        assert.isDefined(span)
        assert.strictEqual(span!.traceId, TRACE_ID)
        const parent = Option.getOrUndefined(span!.parent)
        assert.strictEqual(parent?.spanId, PARENT_SPAN_ID)
        assert.strictEqual(span!.attributes.get("request.id"), "req-42")
        assert.strictEqual(span!.attributes.get("rpc.method"), "ReserveForBuyIn")
        assert.strictEqual(span!.attributes.get("rpc.outcome"), "INVALID_AMOUNT")
        assert.isTrue(spans.some((s) => s.name === "grpc.ReserveForBuyIn" && s.status._tag === "Ended"))
      }))

    it.effect("log lines of a call carry requestId and traceparent", () =>
      Effect.gen(function*() {
        assert.strictEqual(yield* refusedWith("Withdraw", { account_id: "ob-b", amount: "1", idempotency_key: "" }), "MISSING_IDEMPOTENCY_KEY")
        yield* call("Withdraw", { account_id: "ob-b", amount: "1", idempotency_key: "" }, { ...headers, "x-request-id": "req-43" })
        yield* eventually("the refusal is logged", Effect.sync(() => logs.some((l) => l.annotations.requestId === "req-43")))
        const line = logs.find((l) => l.annotations.requestId === "req-43")!
        assert.include(line.message, "grpc call refused")
        assert.deepInclude(line.annotations, { traceparent: headers.traceparent, rpc: "balance.BalanceService/Withdraw" })
      }))

    it.effect("a malformed traceparent starts a fresh trace instead of failing the call", () =>
      Effect.gen(function*() {
        const r = yield* call("GetBalance", { account_id: "ob-c" }, { traceparent: "00-zz-yy-01" })
        assert.strictEqual(r.currency, "CHIPS")
        const span = spans.findLast((s) => s.name === "grpc.GetBalance")!
        assert.isTrue(Option.isNone(span.parent), "no parent: a new trace")
      }))
  }
)

import * as NodeSdk from "@effect/opentelemetry/NodeSdk"
import * as OtelTracer from "@effect/opentelemetry/OtelTracer"
import * as Resource from "@effect/opentelemetry/Resource"
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http"
import { BatchSpanProcessor, type SpanProcessor } from "@opentelemetry/sdk-trace-base"
import { Config, Effect, type Fiber, Layer, Tracer } from "effect"
import { SERVICE_VERSION } from "../buildInfo.ts"

export const SERVICE_NAME = "balance-service"

/**
 * Effect spans as OpenTelemetry SDK spans, without OtelTracer's context bridge. The bridge makes
 * each span the active OpenTelemetry context around every step of every fiber, for libraries
 * instrumented with @opentelemetry/api directly; this service has none (gRPC, HTTP, Redis spans
 * are Effect's own), and the bridge cost about a third of the CPU per call in the benchmark's
 * tracing mode. Parents still come from Effect's span tree and from incoming traceparent headers.
 */
const spansWithoutContextBridge = Layer.effect(
  Tracer.Tracer,
  Effect.map(OtelTracer.make, (otel) => Tracer.make({ span: (options) => otel.span(options) }))
)

/** Effect's spans through the OpenTelemetry SDK into `spanProcessor`, under resource service.name `serviceName`. */
export const tracingLayerWith = (spanProcessor: SpanProcessor, serviceName: string = SERVICE_NAME) =>
  spansWithoutContextBridge.pipe(
    Layer.provide(OtelTracer.layerTracer),
    Layer.provide(NodeSdk.layerTracerProvider(spanProcessor)),
    Layer.provide(Resource.layerFromEnv(Resource.configToAttributes({ serviceName, serviceVersion: SERVICE_VERSION })))
  )

/** OTLP/HTTP traces URL from OTEL_EXPORTER_OTLP_ENDPOINT (base URL, `/v1/traces` appended unless already there). */
export const tracesUrl = (endpoint: string) => {
  const base = endpoint.trim().replace(/\/+$/, "")
  return base.endsWith("/v1/traces") ? base : `${base}/v1/traces`
}

/**
 * OpenTelemetry tracing, exported over OTLP/HTTP (JSON) when
 * OTEL_EXPORTER_OTLP_ENDPOINT is set (service.name balance-service, or
 * OTEL_SERVICE_NAME). Without it no SDK is loaded and spans stay in-process
 * (Effect's own tracer): log lines keep their trace ids, nothing is exported.
 * Pending spans are flushed when the layer closes.
 */
export const TracingLayer = Layer.unwrap(Effect.gen(function*() {
  const endpoint = yield* Config.String("OTEL_EXPORTER_OTLP_ENDPOINT").pipe(Config.withDefault(""))
  if (endpoint.trim() === "") return Layer.empty
  const serviceName = yield* Config.String("OTEL_SERVICE_NAME").pipe(Config.withDefault(SERVICE_NAME))
  return tracingLayerWith(new BatchSpanProcessor(new OTLPTraceExporter({ url: tracesUrl(endpoint) })), serviceName)
}))

/**
 * Whether a tracing backend is installed: Effect's default tracer keeps spans in-process,
 * where nothing but a log line's span id ever reads them (OTEL_EXPORTER_OTLP_ENDPOINT unset).
 */
export const exportsSpans = (fiber: Fiber.Fiber<unknown, unknown>): boolean => fiber.getRef(Tracer.Tracer) !== Tracer.nativeTracer

/**
 * `Effect.withSpan` (without stack capture) when spans are exported; the effect as it is otherwise.
 * For the inner steps of a call (Ledger.execute, Store.apply, ...): with the default tracer their
 * span objects, ids and attributes were paid on every call and seen by nobody; the call's own
 * `grpc.<Method>` span stays, so every log line of the call still carries its trace and span ids.
 * `options` is only evaluated when the span is made.
 */
export const withSpanWhenExported = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  name: string,
  options?: () => Tracer.SpanOptionsNoTrace
): Effect.Effect<A, E, R> =>
  Effect.withFiber((fiber) =>
    exportsSpans(fiber) ? Effect.withSpan(effect, name, { ...options?.(), captureStackTrace: false }) : effect
  )

import * as NodeSdk from "@effect/opentelemetry/NodeSdk"
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http"
import { BatchSpanProcessor, type SpanProcessor } from "@opentelemetry/sdk-trace-base"
import { Config, Effect, Layer } from "effect"

export const SERVICE_NAME = "balance-service"
const SERVICE_VERSION = "0.1.0"

/** Effect's spans through the OpenTelemetry SDK into `spanProcessor`, under resource service.name `serviceName`. */
export const tracingLayerWith = (spanProcessor: SpanProcessor, serviceName: string = SERVICE_NAME) =>
  NodeSdk.layer(() => ({
    resource: { serviceName, serviceVersion: SERVICE_VERSION },
    spanProcessor
  }))

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

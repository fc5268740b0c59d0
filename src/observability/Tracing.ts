import * as NodeSdk from "@effect/opentelemetry/NodeSdk"
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http"
import { BatchSpanProcessor } from "@opentelemetry/sdk-trace-base"
import { Config, Effect, Layer } from "effect"

/**
 * OpenTelemetry tracing, exported over OTLP/HTTP when
 * OTEL_EXPORTER_OTLP_ENDPOINT is set (service.name balance-service). Without
 * it no SDK is loaded and spans stay in-process (Effect's own tracer), which
 * is what keeps log lines' trace ids without exporting anything.
 */
export const TracingLayer = Layer.unwrap(Effect.gen(function*() {
  const endpoint = yield* Config.String("OTEL_EXPORTER_OTLP_ENDPOINT").pipe(Config.withDefault(""))
  if (endpoint.trim() === "") return Layer.empty
  const serviceName = yield* Config.String("OTEL_SERVICE_NAME").pipe(Config.withDefault("balance-service"))
  const url = endpoint.replace(/\/+$/, "").endsWith("/v1/traces") ? endpoint : `${endpoint.replace(/\/+$/, "")}/v1/traces`
  return NodeSdk.layer(() => ({
    resource: { serviceName, serviceVersion: "0.1.0" },
    spanProcessor: new BatchSpanProcessor(new OTLPTraceExporter({ url }))
  }))
}))

import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer, Tracer } from "effect"
import { TracingLayer, tracesUrl } from "../../src/observability/Tracing.ts"

const withEnv = (env: Record<string, string>) => ConfigProvider.layer(ConfigProvider.fromUnknown(env))

/** An OTLP/HTTP sink on a free port: keeps each request's path, content type and body. */
const otlpSink = Effect.acquireRelease(
  Effect.promise(async () => {
    const received: Array<{ path: string; contentType: string; body: Buffer }> = []
    const server = createServer((req, res) => {
      const chunks: Array<Buffer> = []
      req.on("data", (c: Buffer) => chunks.push(c))
      req.on("end", () => {
        received.push({ path: req.url ?? "", contentType: String(req.headers["content-type"]), body: Buffer.concat(chunks) })
        res.writeHead(200, { "content-type": "application/json" }).end("{}")
      })
    })
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    return { received, server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }
  }),
  ({ server }) => Effect.promise(() => new Promise<void>((resolve) => server.close(() => resolve())))
)

describe("TracingLayer", () => {
  it.effect("without OTEL_EXPORTER_OTLP_ENDPOINT: no SDK, Effect's own tracer (spans stay in-process)", () =>
    Effect.gen(function*() {
      const tracer = yield* Effect.tracer.pipe(Effect.provide(TracingLayer.pipe(Layer.provide(withEnv({})))))
      assert.strictEqual(tracer, Tracer.nativeTracer)
    }))

  it.live("with OTEL_EXPORTER_OTLP_ENDPOINT: spans are posted to <endpoint>/v1/traces under service.name balance-service", () =>
    Effect.gen(function*() {
      const sink = yield* otlpSink
      yield* Effect.void.pipe(
        Effect.withSpan("Ledger.execute.Probe"),
        Effect.withSpan("grpc.Probe"),
        // Closing the layer flushes the batch processor.
        Effect.provide(TracingLayer.pipe(Layer.provide(withEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: `${sink.url}/` }))))
      )
      assert.isAtLeast(sink.received.length, 1)
      const request = sink.received[0]!
      assert.strictEqual(request.path, "/v1/traces")
      // Protobuf and JSON both carry strings as UTF-8.
      for (const text of ["balance-service", "service.name", "grpc.Probe", "Ledger.execute.Probe"]) {
        assert.isTrue(request.body.includes(text), `${text} in the export (${request.contentType})`)
      }
    }).pipe(Effect.scoped))

  it("OTLP URL: /v1/traces appended to the base endpoint once", () => {
    assert.strictEqual(tracesUrl("http://collector:4318"), "http://collector:4318/v1/traces")
    assert.strictEqual(tracesUrl("http://collector:4318/"), "http://collector:4318/v1/traces")
    assert.strictEqual(tracesUrl("http://collector:4318/v1/traces"), "http://collector:4318/v1/traces")
  })
})

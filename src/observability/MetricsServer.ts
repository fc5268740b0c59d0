import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { Context, Effect, Layer } from "effect"
import { ListenerReadiness } from "../app/ListenerReadiness.ts"
import { PortUnavailable, portUnavailable } from "../app/PortUnavailable.ts"
import { AppConfig } from "../config.ts"
import { Metrics } from "./Metrics.ts"

/** Where the metrics server listens once bound. */
export class MetricsServerAddress extends Context.Service<MetricsServerAddress, {
  readonly host: string
  readonly port: number
}>()("balance/MetricsServerAddress") {}

const startMetricsServer = (port: number, host: string) =>
  Effect.gen(function*() {
    const { registry } = yield* Metrics
    const server = createServer((req, res) => {
      // HEAD as GET: Node leaves the body out of a HEAD response by itself.
      if ((req.method !== "GET" && req.method !== "HEAD") || (req.url ?? "").split("?")[0] !== "/metrics") {
        res.writeHead(404).end()
        return
      }
      registry.metrics().then(
        (body) => res.writeHead(200, { "content-type": registry.contentType }).end(body),
        () => res.writeHead(500).end()
      )
    })
    yield* Effect.acquireRelease(
      Effect.callback<void, PortUnavailable | Error>((resume) => {
        server.once("error", (e) => resume(Effect.fail(portUnavailable("METRICS_PORT", "HOST", host, port, e) ?? e)))
        server.listen(port, host, () => resume(Effect.void))
      }),
      () => Effect.callback<void>((resume) => void server.close(() => resume(Effect.void)))
    )
    const bound = (server.address() as AddressInfo).port
    // Released before the server closes: /api/ready turns 503 as the drain begins.
    yield* (yield* ListenerReadiness).accepting("metrics")
    yield* Effect.logInfo("metrics listening").pipe(Effect.annotateLogs({ port: bound }))
    return MetricsServerAddress.of({ host, port: bound })
  })

/**
 * Prometheus text on METRICS_PORT (`/metrics`), a plain Node server so that
 * scrapes never queue behind API traffic. The same text is also served on
 * HTTP_PORT `/metrics`.
 */
export const MetricsServerLayer = Layer.effectDiscard(Effect.gen(function*() {
  yield* startMetricsServer(yield* AppConfig.metricsPort, yield* AppConfig.host)
}))

/** The same on an explicit address (port 0: any free port), exposing the bound one (tests). */
export const metricsServerLayerWith = (options: { readonly port: number; readonly host: string }) =>
  Layer.effect(MetricsServerAddress, startMetricsServer(options.port, options.host))

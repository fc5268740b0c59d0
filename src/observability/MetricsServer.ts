import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { Context, Effect, Layer } from "effect"
import { ListenerReadiness } from "../listeners/ListenerReadiness.ts"
import { PortUnavailable, portUnavailable } from "../listeners/PortUnavailable.ts"
import { AppConfig } from "../config.ts"
import { Metrics } from "./Metrics.ts"

/**
 * Prometheus text on METRICS_PORT (`/metrics`), a plain Node server so that
 * scrapes never queue behind API traffic (the same text is also served on
 * HTTP_PORT `/metrics`). The service is where it listens once bound.
 */
export class MetricsServer extends Context.Service<MetricsServer, {
  readonly host: string
  readonly port: number
}>()("balance/MetricsServer") {
  /** On METRICS_PORT and HOST from config. */
  static readonly layer = Layer.unwrap(Effect.gen(function*() {
    return MetricsServer.layerWith({ port: yield* AppConfig.metricsPort, host: yield* AppConfig.host })
  }))

  /** On an explicit address (port 0: any free port; the service tells the bound one). */
  static readonly layerWith = (options: { readonly port: number; readonly host: string }) =>
    Layer.effect(MetricsServer, listen(options.port, options.host))
}

const listen = Effect.fn("MetricsServer.listen")(function*(port: number, host: string) {
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
  return MetricsServer.of({ host, port: bound })
})

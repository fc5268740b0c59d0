import { createServer } from "node:http"
import { Effect, Layer } from "effect"
import { AppConfig } from "../config.ts"
import { Metrics } from "./Metrics.ts"

/**
 * Prometheus text on METRICS_PORT (`/metrics`), a plain Node server so that
 * scrapes never queue behind API traffic. The same text is also served on
 * HTTP_PORT `/metrics`.
 */
export const MetricsServerLayer = Layer.effectDiscard(Effect.gen(function*() {
  const { registry } = yield* Metrics
  const port = yield* AppConfig.metricsPort
  const host = yield* AppConfig.host
  const server = createServer((req, res) => {
    if (req.method !== "GET" || (req.url ?? "").split("?")[0] !== "/metrics") {
      res.writeHead(404).end()
      return
    }
    registry.metrics().then(
      (body) => res.writeHead(200, { "content-type": registry.contentType }).end(body),
      () => res.writeHead(500).end()
    )
  })
  yield* Effect.acquireRelease(
    Effect.callback<void, Error>((resume) => {
      server.once("error", (e) => resume(Effect.fail(e)))
      server.listen(port, host, () => resume(Effect.void))
    }),
    () => Effect.callback<void>((resume) => void server.close(() => resume(Effect.void)))
  )
  yield* Effect.logInfo("metrics listening").pipe(Effect.annotateLogs({ port }))
}))

import { Effect } from "effect"
import { HttpRouter, HttpServerRequest } from "effect/http"
import { Metrics } from "../../observability/Metrics.ts"

/** Ids in paths become placeholders so that the route label stays low-cardinality. */
export const routeLabel = (path: string): string => {
  const clean = path.split("?")[0] ?? "/"
  if (!clean.startsWith("/api/")) return clean === "/metrics" ? clean : "other"
  return clean
    .replace(/^\/api\/accounts\/[^/]+/, "/api/accounts/:accountId")
    .replace(/^\/api\/admin\/reservations\/[^/]+/, "/api/admin/reservations/:reservationId")
    .replace(/^\/api\/admin\/tables\/[^/]+\/hands\/[^/]+/, "/api/admin/tables/:tableId/hands/:handId")
    .replace(/^\/api\/admin\/tables\/[^/]+/, "/api/admin/tables/:tableId")
}

/** RED metrics for every HTTP response (requests by route and status, latency by route). */
export const requestMetrics = HttpRouter.middleware(
  (httpEffect) =>
    Effect.gen(function*() {
      const metrics = yield* Metrics
      const request = yield* HttpServerRequest.HttpServerRequest
      const labels = { method: request.method, route: routeLabel(request.url) }
      const end = metrics.httpDuration.startTimer(labels)
      return yield* httpEffect.pipe(
        Effect.onExit((exit) =>
          Effect.sync(() => {
            end()
            const status = exit._tag === "Success" ? exit.value.status : 500
            metrics.httpRequests.inc({ ...labels, status: String(status) })
          })
        )
      )
    }),
  { global: true }
)

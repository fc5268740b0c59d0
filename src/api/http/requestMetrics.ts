import { Effect, Layer, Option, Tracer, type Types } from "effect"
import { HttpRouter, HttpServerRequest, HttpServerResponse, HttpTraceContext } from "effect/http"
import { HttpApi } from "effect/http-api"
import { initialiseCounter, Metrics } from "../../observability/Metrics.ts"
import { logCompletion, millis, requestIdOf } from "../../observability/RequestLog.ts"
import { BalanceApi } from "./BalanceApi.ts"
import { DOCS_ROUTE_TEMPLATES } from "./docsPage.ts"

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")

/** Every route template the server answers, fewest path parameters first (a literal segment wins over `:param`). */
const routeTemplates: ReadonlyArray<{ readonly template: string; readonly pattern: RegExp }> = (() => {
  const templates = new Set<string>(["/metrics", "/api/openapi.json", ...DOCS_ROUTE_TEMPLATES])
  HttpApi.reflect(BalanceApi, { onGroup: () => {}, onEndpoint: ({ endpoint }) => void templates.add(endpoint.path) })
  return [...templates]
    .map((template) => ({
      template,
      params: template.split("/").filter((seg) => seg.startsWith(":")).length,
      pattern: new RegExp(`^${template.split("/").map((seg) => (seg.startsWith(":") ? "[^/]+" : escapeRegExp(seg))).join("/")}/?$`)
    }))
    .sort((a, b) => a.params - b.params)
})()

/**
 * The route template of a path (`/api/accounts/:accountId/balance`), or
 * `other` for anything the API does not define: the label's values are a
 * fixed set whatever clients send.
 */
export const routeLabel = (path: string): string => {
  const clean = path.split("?")[0] ?? "/"
  for (const route of routeTemplates) if (route.pattern.test(clean)) return route.template
  return "other"
}

/**
 * balance_http_requests_total at 0 for every endpoint and each status it
 * declares (successes, its errors and its middleware's), from the start.
 */
export const initialiseHttpRequestCounts = Layer.effectDiscard(Effect.gen(function*() {
  const metrics = yield* Metrics
  HttpApi.reflect(BalanceApi, {
    onGroup: () => {},
    onEndpoint: ({ endpoint, errors, successes }) =>
      initialiseCounter(metrics.httpRequests, {
        method: [endpoint.method],
        route: [endpoint.path],
        status: [...successes.keys(), ...errors.keys()].map(String)
      })
  })
}))

/** Server span name of a request: `GET /api/accounts/:accountId/balance` (OTel's `{method} {route}`). */
export const spanNameOf = (request: HttpServerRequest.HttpServerRequest) => `${request.method} ${routeLabel(request.url)}`

/** The server span Effect's HTTP server opened for this request, if it did. */
const serverSpan = Effect.map(Effect.serviceOption(Tracer.ParentSpan), (span) =>
  Option.isSome(span) && span.value._tag === "Span" && span.value.kind === "server" ? span.value : undefined)

/**
 * Per response: RED metrics (requests by route and status, latency by route
 * and status), the x-request-id (the caller's, or a generated one, echoed in
 * the response and in every log line as `requestId`) and one completion line
 * (method, route, outcome = status, durationMs) at Info when `accessLog`,
 * else at Debug.
 *
 * Effect's server opens the request span (child of the caller's W3C
 * `traceparent`, named by `spanNameOf`) only when a tracer with a backend is
 * installed; with the built-in tracer it skips it, so the span is opened here
 * instead: log lines then carry the caller's trace id either way.
 */
export const requestMetrics = (accessLog: boolean) =>
  HttpRouter.middleware(
    Effect.fnUntraced(function*(httpEffect: Effect.Effect<HttpServerResponse.HttpServerResponse, Types.unhandled>) {
      const metrics = yield* Metrics
      const request = yield* HttpServerRequest.HttpServerRequest
      const route = routeLabel(request.url)
      const requestId = requestIdOf(request.headers["x-request-id"])
      const started = process.hrtime.bigint()
      const observed = httpEffect.pipe(
        Effect.onExit((exit) => {
          const seconds = Number(process.hrtime.bigint() - started) / 1e9
          const status = exit._tag === "Success" ? exit.value.status : 500
          const labels = { method: request.method, route, status: String(status) }
          metrics.httpDuration.observe(labels, seconds)
          metrics.httpRequests.inc(labels)
          return logCompletion(accessLog, "http request", {
            method: request.method,
            route,
            outcome: status,
            durationMs: millis(seconds)
          })
        }),
        Effect.map((response) => HttpServerResponse.setHeader(response, "x-request-id", requestId)),
        Effect.annotateLogs({ requestId })
      )
      const span = yield* serverSpan
      if (span !== undefined) {
        span.attribute("request.id", requestId)
        return yield* observed
      }
      const parent = Option.getOrUndefined(HttpTraceContext.fromHeaders(request.headers))
      return yield* Effect.withSpan(observed, spanNameOf(request), {
        kind: "server",
        attributes: { "http.request.method": request.method, "http.route": route, "request.id": requestId },
        ...(parent === undefined ? { root: true } : { parent }),
        captureStackTrace: false
      })
    }),
    { global: true }
  )

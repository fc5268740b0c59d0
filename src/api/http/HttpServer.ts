import { createServer } from "node:http"
import { NodeHttpServer } from "@effect/platform-node"
import { ByteSize, Effect, Layer } from "effect"
import { HttpIncomingMessage, HttpMiddleware, HttpRouter, HttpServerRequest } from "effect/http"
import { HttpApiBuilder } from "effect/http-api"
import { type PortUnavailable, portUnavailable } from "../../listeners/PortUnavailable.ts"
import { AppConfig } from "../../config.ts"
import { ConsoleRoutes } from "../../console/ConsoleRoutes.ts"
import { NotFound, PayloadTooLarge } from "./ApiErrors.ts"
import { AccountAccess } from "./auth/AccountAccess.ts"
import { AuthenticationLive } from "./auth/Authentication.ts"
import { RequireAdmin } from "./auth/RequireAdmin.ts"
import { BalanceApi } from "./BalanceApi.ts"
import { docsRoutes } from "./docsPage.ts"
import { ErrorEnvelope, errorResponse } from "./ErrorEnvelope.ts"
import { AccountHandlers } from "./handlers/AccountHandlers.ts"
import { AdminHandlers } from "./handlers/AdminHandlers.ts"
import { EconomyHandlers } from "./handlers/EconomyHandlers.ts"
import { OperationsHandlers } from "./handlers/OperationsHandlers.ts"
import { HealthHandlers } from "./handlers/HealthHandlers.ts"
import { WalletAdminHandlers } from "./handlers/WalletAdminHandlers.ts"
import { initialiseHttpRequestCounts, requestMetrics, spanNameOf } from "./requestMetrics.ts"
import { Metrics } from "../../observability/Metrics.ts"
import { HttpServerResponse } from "effect/http"

export interface HttpServerOptions {
  readonly port: number
  readonly host: string
  readonly maxBodyBytes: number
  /** The completion line of every response at Info when true, at Debug otherwise (HTTP_ACCESS_LOG). */
  readonly accessLog: boolean
}

/**
 * Bodies over the limit are refused from Content-Length before anything is
 * read; a body that lies about its length is cut off by MaxBodySize while it is
 * read (ErrorEnvelope turns that into the same 413).
 */
const bodyLimit = (maxBodyBytes: number) =>
  HttpRouter.middleware(
    (httpEffect) =>
      HttpServerRequest.HttpServerRequest.use((request) =>
        Number(request.headers["content-length"] ?? "0") > maxBodyBytes
          ? Effect.succeed(errorResponse(new PayloadTooLarge({
            error: "PAYLOAD_TOO_LARGE",
            message: `the request body is larger than ${maxBodyBytes} bytes`
          })))
          : httpEffect
      ).pipe(Effect.provideService(HttpIncomingMessage.MaxBodySize, ByteSize.bytes(maxBodyBytes))),
    { global: true }
  )

/** Unknown routes answer in the API's error shape instead of an empty 404. */
const NotFoundRoute = HttpRouter.add(
  "*",
  "/*",
  Effect.succeed(errorResponse(new NotFound({ error: "NOT_FOUND", message: "no such route" })))
)

/** The Prometheus text also on HTTP_PORT, for scrapers that only know the API port. */
const MetricsRoute = HttpRouter.add(
  "GET",
  "/metrics",
  Effect.map(Metrics.render, ({ body, contentType }) => HttpServerResponse.text(body, { contentType }))
)

/**
 * Every route of the HTTP API: the endpoints, `/api/openapi.json` (generated
 * from the same Schemas that validate requests), `/api/docs` (Swagger UI,
 * every file served from here: docsPage.ts) and the admin console at `/admin`.
 */
export const apiRoutes = (maxBodyBytes: number, accessLog = false) =>
  Layer.mergeAll(
    HttpApiBuilder.layer(BalanceApi, { openapiPath: "/api/openapi.json" }),
    docsRoutes("balance-service"),
    ConsoleRoutes,
    NotFoundRoute,
    MetricsRoute,
    initialiseHttpRequestCounts,
    // Listed before the body limit, so that it wraps it: a 413 is counted, logged and gets its x-request-id too.
    requestMetrics(accessLog),
    bodyLimit(maxBodyBytes)
  ).pipe(
    Layer.provide([HealthHandlers, AccountHandlers, WalletAdminHandlers, AdminHandlers, OperationsHandlers, EconomyHandlers]),
    Layer.provide([ErrorEnvelope.layer, AuthenticationLive, AccountAccess.layer, RequireAdmin.layer])
  )

/** Longer than any URL Node's HTTP parser lets through (16 KiB of headers). */
const MAX_PARAM_LENGTH = 16_384

/**
 * The HTTP server on the given address. Requires Ledger, LedgerVerifier,
 * Store, AuthSettings and the admin services (src/app/AdminServices.ts); provides HttpServer (its `address` tells the bound
 * port when `port` is 0).
 */
export const layerWith = (options: HttpServerOptions) => {
  const routes = apiRoutes(options.maxBodyBytes, options.accessLog)
  // requestMetrics logs each response (with route, duration and request id): Effect's own access log stays off.
  // Path parameters reach the Schemas whatever their length: a 128-character id (the longest valid
  // one) is served and a longer one is refused naming the parameter, instead of the router's default
  // limit of 100 turning both into "no such route".
  return HttpRouter.serve(routes, { disableLogger: true, routerConfig: { maxParamLength: MAX_PARAM_LENGTH } }).pipe(
    Layer.provide(Layer.succeed(HttpMiddleware.SpanNameGenerator)(spanNameOf)),
    Layer.provideMerge(nodeListener(options))
  )
}

/**
 * HEAD is GET without the body (RFC 9110 9.3.2: every general-purpose server supports both),
 * so `curl -I` and load-balancer probes see the route's status and headers instead of a 404.
 * The router only knows GET routes: the request is handed to it as a GET, and Node, which
 * decided when the response was created that a HEAD response has no body, drops what it writes.
 */
const createServerAnsweringHead = () => {
  const server = createServer()
  server.prependListener("request", (req) => {
    if (req.method === "HEAD") req.method = "GET"
  })
  return server
}

/** Node's HTTP server on the address; a port it cannot bind fails the start naming HTTP_PORT (PortUnavailable). */
const nodeListener = (options: HttpServerOptions) => {
  const listener = NodeHttpServer.layer(createServerAnsweringHead, { port: options.port, host: options.host })
  return listener.pipe(
    Layer.catchTag("ServeError", (e) =>
      Layer.effectContext<Layer.Success<typeof listener>, PortUnavailable | typeof e, never>(
        Effect.fail(portUnavailable("HTTP_PORT", "HOST", options.host, options.port, e.cause) ?? e)
      ))
  )
}

/**
 * The HTTP API as `npm start` runs it: HTTP_PORT/HOST, HTTP_MAX_BODY_BYTES and
 * HTTP_ACCESS_LOG from config. Requires Ledger, LedgerVerifier, Store and
 * AuthSettings (shared with the gRPC server's admin methods).
 */
export const layer = Layer.unwrap(Effect.gen(function*() {
  return layerWith({
    port: yield* AppConfig.httpPort,
    host: yield* AppConfig.host,
    maxBodyBytes: yield* AppConfig.httpMaxBodyBytes,
    accessLog: yield* AppConfig.httpAccessLog
  })
}))

import { createHash } from "node:crypto"
import { readFileSync } from "node:fs"
import { createRequire } from "node:module"
import { dirname, join } from "node:path"
import { Effect, Layer } from "effect"
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "effect/http"
import { NotFound } from "./ApiErrors.ts"
import { errorResponse } from "./ErrorEnvelope.ts"

/**
 * `/api/docs`: Swagger UI over `/api/openapi.json`, every file served by the
 * service itself from the swagger-ui-dist package, so the page works on a
 * machine without internet access and sends nothing elsewhere (no fonts, no
 * CDN, no validator badge). A Content-Security-Policy of 'self' makes the
 * browser hold the page to that.
 *
 * The assets' URLs carry the package version, so they are cached as immutable;
 * every response has a strong ETag and answers If-None-Match with 304.
 */
export const DOCS_PATH = "/api/docs" as const

const swaggerUiDir = dirname(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"))
const swaggerUiVersion = (JSON.parse(readFileSync(join(swaggerUiDir, "package.json"), "utf8")) as { version: string }).version
const ASSETS_PATH: `${typeof DOCS_PATH}/${string}` = `${DOCS_PATH}/swagger-ui-${swaggerUiVersion}`

interface Asset {
  readonly body: Uint8Array
  readonly contentType: string
  readonly etag: string
  readonly cacheControl: string
}

const etagOf = (body: Uint8Array) => `"${createHash("sha256").update(body).digest("base64url").slice(0, 27)}"`

const asset = (body: Uint8Array, contentType: string, cacheControl: string): Asset => ({
  body,
  contentType,
  etag: etagOf(body),
  cacheControl
})

const IMMUTABLE = "public, max-age=31536000, immutable"

// The bundle's last line names a source map; browsers fetch it only with developer tools open.
const packaged = (file: string, contentType: string) => asset(readFileSync(join(swaggerUiDir, file)), contentType, IMMUTABLE)

/** Our own initializer (a file, not an inline script, so that the CSP needs no 'unsafe-inline' for scripts). */
const initializer = `window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: ${JSON.stringify("/api/openapi.json")},
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    defaultModelsExpandDepth: 0,
    docExpansion: "list"
  })
})
`

const page = (title: string) => `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>${title} API</title>
    <link rel="icon" type="image/png" href="${ASSETS_PATH}/favicon-32x32.png" />
    <link rel="stylesheet" href="${ASSETS_PATH}/swagger-ui.css" />
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="${ASSETS_PATH}/swagger-ui-bundle.js"></script>
    <script src="${ASSETS_PATH}/initializer.js"></script>
  </body>
</html>
`

/** Only the service's own origin; Swagger UI sets inline styles and uses data: images. */
const CONTENT_SECURITY_POLICY =
  "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'"

const encoder = new TextEncoder()

/** As the console's pages: no type sniffing, and nothing of the page's address sent elsewhere. */
const HARDENING_HEADERS = { "x-content-type-options": "nosniff", "referrer-policy": "no-referrer" }

const serve = (a: Asset, extraHeaders: Record<string, string> = {}) =>
  Effect.map(HttpServerRequest.HttpServerRequest, (request) => {
    const headers = { etag: a.etag, "cache-control": a.cacheControl, ...HARDENING_HEADERS, ...extraHeaders }
    return request.headers["if-none-match"] === a.etag
      ? HttpServerResponse.empty({ status: 304, headers })
      : HttpServerResponse.uint8Array(a.body, { contentType: a.contentType, headers })
  })

/** The docs page and its assets, for an API titled `title`. */
export const docsRoutes = (title: string) => {
  const assets = new Map<string, Asset>([
    ["swagger-ui-bundle.js", packaged("swagger-ui-bundle.js", "text/javascript; charset=utf-8")],
    ["swagger-ui.css", packaged("swagger-ui.css", "text/css; charset=utf-8")],
    ["favicon-32x32.png", packaged("favicon-32x32.png", "image/png")],
    ["initializer.js", asset(encoder.encode(initializer), "text/javascript; charset=utf-8", IMMUTABLE)]
  ])
  // The page names the versioned assets: it is revalidated on every visit (ETag), never stale.
  const html = asset(encoder.encode(page(title)), "text/html; charset=utf-8", "no-cache")
  return Layer.mergeAll(
    HttpRouter.add("GET", DOCS_PATH, serve(html, { "content-security-policy": CONTENT_SECURITY_POLICY })),
    HttpRouter.add(
      "GET",
      `${ASSETS_PATH}/:file`,
      Effect.flatMap(HttpRouter.params, ({ file }) => {
        const found = file === undefined ? undefined : assets.get(file)
        return found === undefined
          ? Effect.succeed(errorResponse(new NotFound({ error: "NOT_FOUND", message: "no such file of the docs page" })))
          : serve(found)
      })
    )
  )
}

/** Route templates of the docs, for metric labels. */
export const DOCS_ROUTE_TEMPLATES = [DOCS_PATH, `${ASSETS_PATH}/:file`] as const

import { createHash } from "node:crypto"
import { readFileSync } from "node:fs"
import { Effect, Layer } from "effect"
import { HttpRouter, type HttpServerRequest, HttpServerResponse } from "effect/http"

/**
 * The admin console at /admin: one HTML page, one stylesheet, one script, all read from
 * ./assets next to this module (src/console/assets when run from source, dist/console/assets
 * after `npm run build`, which copies them) and served by the service itself, so it works
 * offline and loads nothing from elsewhere (the Content-Security-Policy says so to the browser).
 *
 * Caching: the page names each asset with a hash of its content (`console.js?v=<hash>`), so
 * assets are cached for a year as immutable and a new build is picked up at the next page load;
 * the page itself is revalidated every time (ETag).
 */

const ASSETS = {
  "console.js": "text/javascript; charset=utf-8",
  "console.css": "text/css; charset=utf-8"
} as const
type AssetName = keyof typeof ASSETS

const SECURITY_HEADERS = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY"
}

const hashOf = (body: string) => createHash("sha256").update(body).digest("hex").slice(0, 16)

interface Served {
  readonly body: string
  readonly etag: string
  readonly contentType: string
}

/** Reads the assets once; throws (the service does not start) if the build left them out. */
export const loadConsoleAssets = (dir: URL = new URL("./assets/", import.meta.url)) => {
  const assets = new Map<AssetName, Served>()
  for (const [name, contentType] of Object.entries(ASSETS) as Array<[AssetName, string]>) {
    const body = readFileSync(new URL(name, dir), "utf8")
    assets.set(name, { body, etag: `"${hashOf(body)}"`, contentType })
  }
  let html = readFileSync(new URL("index.html", dir), "utf8")
  for (const [name, a] of assets) html = html.replaceAll(`{{${name}}}`, a.etag.slice(1, -1))
  const page: Served = { body: html, etag: `"${hashOf(html)}"`, contentType: "text/html; charset=utf-8" }
  return { page, assets }
}

const respond = (request: HttpServerRequest.HttpServerRequest, served: Served, cacheControl: string) => {
  const headers = { ...SECURITY_HEADERS, "cache-control": cacheControl, etag: served.etag }
  if (request.headers["if-none-match"] === served.etag) return HttpServerResponse.empty({ status: 304, headers })
  return HttpServerResponse.text(served.body, { contentType: served.contentType, headers })
}

export const ConsoleRoutes = Layer.unwrap(Effect.sync(() => {
  const { page, assets } = loadConsoleAssets()
  const pageRoute = (path: `/${string}`) => HttpRouter.add("GET", path, (request) => Effect.succeed(respond(request, page, "no-cache")))
  const assetRoutes = [...assets].map(([name, served]) =>
    HttpRouter.add("GET", `/admin/assets/${name}` as const, (request) => {
      // Immutable only under the name the current page uses; any other version is revalidated.
      const versioned = new URL(request.url, "http://x").searchParams.get("v") === served.etag.slice(1, -1)
      return Effect.succeed(respond(request, served, versioned ? "public, max-age=31536000, immutable" : "no-cache"))
    }))
  // The router treats /admin/ as /admin.
  return Layer.mergeAll(pageRoute("/admin"), ...assetRoutes)
}))

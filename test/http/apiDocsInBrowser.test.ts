/**
 * /api/docs in a real headless Chromium (Debian's `chromium`, driven by
 * playwright-core): the operations render, and every request the page makes
 * goes to the service itself. A screenshot is left in test-artifacts/ for a
 * look at what rendered.
 */
import { mkdirSync } from "node:fs"
import { join } from "node:path"
import type { Browser } from "playwright-core"
import { assert, layer } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import { MemoryStore } from "../../src/store/memory/MemoryStore.ts"
import { ROUTES } from "./suites/openApiDocument.ts"
import { TestHttpServer } from "./support/testServer.ts"
import { launchChromium } from "../support/chromium.ts"
import { eventuallyEffect } from "../support/eventually.ts"

const ARTIFACTS = join(import.meta.dirname, "..", "..", "test-artifacts")

/** One headless Chromium for the block, closed after its last test. */
class TestBrowser extends Context.Service<TestBrowser, Browser>()("test/TestBrowser") {
  static readonly layer = Layer.effect(
    TestBrowser,
    Effect.acquireRelease(Effect.promise(launchChromium), (browser) => Effect.promise(() => browser.close()))
  )
}

const isLoopback = (url: string) => {
  const { protocol, hostname } = new URL(url)
  if (protocol === "data:" || protocol === "blob:" || protocol === "about:") return true
  return hostname === "127.0.0.1" || hostname === "localhost" || hostname === "[::1]"
}

// Live services: the page talks to the server over real sockets, in real time.
layer(Layer.mergeAll(TestHttpServer.layer(MemoryStore.layer), TestBrowser.layer), { excludeTestServices: true })("/api/docs in headless Chromium", (it) => {
  it.effect("renders every operation from the service's own files, with no request to any other host", () => Effect.gen(function*() {
    const { baseUrl } = yield* TestHttpServer
    const browser = yield* TestBrowser
    const page = yield* Effect.promise(() => browser.newPage({ viewport: { width: 1280, height: 2400 } }))
    const requested: Array<string> = []
    const failed: Array<string> = []
    page.on("request", (request) => void requested.push(request.url()))
    page.on("requestfailed", (request) => void failed.push(`${request.url()}: ${request.failure()?.errorText}`))
    const errors: Array<string> = []
    page.on("pageerror", (error) => void errors.push(error.message))

    const response = yield* Effect.promise(() => page.goto(`${baseUrl}/api/docs`, { waitUntil: "networkidle" }))
    assert.strictEqual(response?.status(), 200)
    assert.deepStrictEqual(requested.filter((url) => !isLoopback(url)), [])
    // Swagger UI shows each operation as a block carrying its path; all of them, once the document loaded.
    const balance = page.locator('.opblock-summary-path[data-path="/api/accounts/{accountId}/balance"]')
    yield* Effect.promise(() => balance.waitFor({ state: "visible", timeout: 30_000 }))
    yield* eventuallyEffect(
      "every operation shown",
      Effect.map(Effect.promise(() => page.locator(".opblock").count()), (shown) => shown === ROUTES.length)
    )
    assert.include(yield* Effect.promise(() => page.locator(".info .title").innerText()), "balance-service")

    mkdirSync(ARTIFACTS, { recursive: true })
    yield* Effect.promise(() => page.screenshot({ path: join(ARTIFACTS, "api-docs.png"), fullPage: false }))
    yield* Effect.promise(() => page.close())

    assert.deepStrictEqual(requested.filter((url) => !isLoopback(url)), [])
    assert.include(requested, `${baseUrl}/api/openapi.json`)
    assert.deepStrictEqual(failed, [])
    assert.deepStrictEqual(errors, [])
  }))

  it.effect("serves the assets with an ETag and an immutable cache policy, and answers a revalidation with 304", () => Effect.gen(function*() {
    const { baseUrl } = yield* TestHttpServer
    const html = yield* Effect.promise(() => fetch(`${baseUrl}/api/docs`))
    const text = yield* Effect.promise(() => html.text())
    assert.include(html.headers.get("content-security-policy"), "default-src 'self'")
    assert.strictEqual(html.headers.get("cache-control"), "no-cache")
    const assets = [...text.matchAll(/(?:src|href)="(\/api\/docs\/[^"]+)"/g)].map((m) => m[1]!)
    assert.isAtLeast(assets.length, 3)
    for (const path of [...assets, "/api/docs"]) {
      const first = yield* Effect.promise(() => fetch(`${baseUrl}${path}`))
      assert.strictEqual(first.status, 200, path)
      assert.deepStrictEqual([first.headers.get("x-content-type-options"), first.headers.get("referrer-policy")], ["nosniff", "no-referrer"], path)
      yield* Effect.promise(() => first.arrayBuffer())
      const etag = first.headers.get("etag")
      assert.match(etag ?? "", /^"[A-Za-z0-9_-]+"$/, path)
      if (path !== "/api/docs") assert.include(first.headers.get("cache-control"), "immutable", path)
      const again = yield* Effect.promise(() => fetch(`${baseUrl}${path}`, { headers: { "if-none-match": etag! } }))
      assert.strictEqual(again.status, 304, path)
      assert.strictEqual((yield* Effect.promise(() => again.arrayBuffer())).byteLength, 0, path)
    }
    const missing = yield* Effect.promise(() => fetch(`${baseUrl}${assets[0]!.replace(/[^/]+$/, "nope.js")}`))
    assert.strictEqual(missing.status, 404)
    assert.containSubset(yield* Effect.promise(() => missing.json()), { error: "NOT_FOUND" })
  }))
})

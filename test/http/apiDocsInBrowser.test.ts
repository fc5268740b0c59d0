/**
 * /api/docs in a real headless Chromium (Debian's `chromium`, driven by
 * playwright-core): the operations render, and every request the page makes
 * goes to the service itself. A screenshot is left in test-artifacts/ for a
 * look at what rendered.
 */
import { mkdirSync } from "node:fs"
import { join } from "node:path"
import type { Browser } from "playwright-core"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { MemoryStore } from "../../src/store/memory/MemoryStore.ts"
import { ROUTES } from "./suites/openApiDocument.ts"
import { startTestServer, type TestServer } from "./support/testServer.ts"
import { launchChromium } from "../support/chromium.ts"
import { eventually } from "../support/eventually.ts"

const ARTIFACTS = join(import.meta.dirname, "..", "..", "test-artifacts")

let server: TestServer
let browser: Browser

beforeAll(async () => {
  server = await startTestServer(MemoryStore.layer)
  browser = await launchChromium()
})

afterAll(async () => {
  await browser?.close()
  await server?.close()
})

const isLoopback = (url: string) => {
  const { protocol, hostname } = new URL(url)
  if (protocol === "data:" || protocol === "blob:" || protocol === "about:") return true
  return hostname === "127.0.0.1" || hostname === "localhost" || hostname === "[::1]"
}

describe("/api/docs in headless Chromium", () => {
  it("renders every operation from the service's own files, with no request to any other host", async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 2400 } })
    const requested: Array<string> = []
    const failed: Array<string> = []
    page.on("request", (request) => void requested.push(request.url()))
    page.on("requestfailed", (request) => void failed.push(`${request.url()}: ${request.failure()?.errorText}`))
    const errors: Array<string> = []
    page.on("pageerror", (error) => void errors.push(error.message))

    const response = await page.goto(`${server.baseUrl}/api/docs`, { waitUntil: "networkidle" })
    assert.strictEqual(response?.status(), 200)
    assert.deepStrictEqual(requested.filter((url) => !isLoopback(url)), [])
    // Swagger UI shows each operation as a block carrying its path; all of them, once the document loaded.
    const balance = page.locator('.opblock-summary-path[data-path="/api/accounts/{accountId}/balance"]')
    await balance.waitFor({ state: "visible", timeout: 30_000 })
    await eventually("every operation shown", async () => (await page.locator(".opblock").count()) === ROUTES.length)
    assert.include(await page.locator(".info .title").innerText(), "balance-service")

    mkdirSync(ARTIFACTS, { recursive: true })
    await page.screenshot({ path: join(ARTIFACTS, "api-docs.png"), fullPage: false })
    await page.close()

    assert.deepStrictEqual(requested.filter((url) => !isLoopback(url)), [])
    assert.include(requested, `${server.baseUrl}/api/openapi.json`)
    assert.deepStrictEqual(failed, [])
    assert.deepStrictEqual(errors, [])
  })

  it("serves the assets with an ETag and an immutable cache policy, and answers a revalidation with 304", async () => {
    const html = await fetch(`${server.baseUrl}/api/docs`)
    const text = await html.text()
    assert.include(html.headers.get("content-security-policy"), "default-src 'self'")
    assert.strictEqual(html.headers.get("cache-control"), "no-cache")
    const assets = [...text.matchAll(/(?:src|href)="(\/api\/docs\/[^"]+)"/g)].map((m) => m[1]!)
    assert.isAtLeast(assets.length, 3)
    for (const path of [...assets, "/api/docs"]) {
      const first = await fetch(`${server.baseUrl}${path}`)
      assert.strictEqual(first.status, 200, path)
      await first.arrayBuffer()
      const etag = first.headers.get("etag")
      assert.match(etag ?? "", /^"[A-Za-z0-9_-]+"$/, path)
      if (path !== "/api/docs") assert.include(first.headers.get("cache-control"), "immutable", path)
      const again = await fetch(`${server.baseUrl}${path}`, { headers: { "if-none-match": etag! } })
      assert.strictEqual(again.status, 304, path)
      assert.strictEqual((await again.arrayBuffer()).byteLength, 0, path)
    }
    const missing = await fetch(`${server.baseUrl}${assets[0]!.replace(/[^/]+$/, "nope.js")}`)
    assert.strictEqual(missing.status, 404)
    assert.containSubset(await missing.json(), { error: "NOT_FOUND" })
  })
})

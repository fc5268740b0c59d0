/**
 * /api/docs in a real headless Chromium (Debian's `chromium`, driven by
 * playwright-core): the operations render, and every request the page makes
 * goes to the service itself. A screenshot is left in test-artifacts/ for a
 * look at what rendered.
 */
import { mkdirSync } from "node:fs"
import { join } from "node:path"
import type { Browser } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { MemoryStore } from "../../src/store/memory/MemoryStore.ts"
import { ROUTES } from "./suites/openApiDocument.ts"
import { startTestServer, type TestServer } from "./support/testServer.ts"
import { launchChromium } from "../support/chromium.ts"

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
    expect(response?.status()).toBe(200)
    expect(requested.filter((url) => !isLoopback(url))).toEqual([])
    // Swagger UI shows each operation as a block carrying its path; all of them, once the document loaded.
    const balance = page.locator('.opblock-summary-path[data-path="/api/accounts/{accountId}/balance"]')
    await balance.waitFor({ state: "visible", timeout: 30_000 })
    await expect.poll(() => page.locator(".opblock").count(), { timeout: 10_000 }).toBe(ROUTES.length)
    expect(await page.locator(".info .title").innerText()).toContain("balance-service")

    mkdirSync(ARTIFACTS, { recursive: true })
    await page.screenshot({ path: join(ARTIFACTS, "api-docs.png"), fullPage: false })
    await page.close()

    expect(requested.filter((url) => !isLoopback(url))).toEqual([])
    expect(requested).toContain(`${server.baseUrl}/api/openapi.json`)
    expect(failed).toEqual([])
    expect(errors).toEqual([])
  })

  it("serves the assets with an ETag and an immutable cache policy, and answers a revalidation with 304", async () => {
    const html = await fetch(`${server.baseUrl}/api/docs`)
    const text = await html.text()
    expect(html.headers.get("content-security-policy")).toContain("default-src 'self'")
    expect(html.headers.get("cache-control")).toBe("no-cache")
    const assets = [...text.matchAll(/(?:src|href)="(\/api\/docs\/[^"]+)"/g)].map((m) => m[1]!)
    expect(assets.length).toBeGreaterThanOrEqual(3)
    for (const path of [...assets, "/api/docs"]) {
      const first = await fetch(`${server.baseUrl}${path}`)
      expect(first.status, path).toBe(200)
      await first.arrayBuffer()
      const etag = first.headers.get("etag")
      expect(etag, path).toMatch(/^"[A-Za-z0-9_-]+"$/)
      if (path !== "/api/docs") expect(first.headers.get("cache-control"), path).toContain("immutable")
      const again = await fetch(`${server.baseUrl}${path}`, { headers: { "if-none-match": etag! } })
      expect(again.status, path).toBe(304)
      expect((await again.arrayBuffer()).byteLength, path).toBe(0)
    }
    const missing = await fetch(`${server.baseUrl}${assets[0]!.replace(/[^/]+$/, "nope.js")}`)
    expect(missing.status).toBe(404)
    expect(await missing.json()).toMatchObject({ error: "NOT_FOUND" })
  })
})

import { mkdirSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import type { Browser, Page } from "playwright-core"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { eventually } from "../support/eventually.ts"
import { appendDeadLetter } from "../../src/degradation/CreditJournal.ts"
import { deadLetterPath } from "../../src/degradation/DeadLetters.ts"
import { adminToken, playerToken } from "../http/support/client.ts"
import { launchChromium } from "../support/chromium.ts"
import { startTestPostgresServer, type TestPostgresServer } from "../support/postgresServer.ts"
import { ADMIN_KEY, type AdminFixture, adminCall, type GameResult, playGameOverGrpc, startAdminFixture } from "./support/adminFixture.ts"

/** Screenshots of each page, for people to look at (gitignored). */
const ARTIFACTS = fileURLToPath(new URL("../../test-artifacts/admin/", import.meta.url))

describe("admin console in headless Chromium against the real service", () => {
  let postgres: TestPostgresServer | undefined
  let f: AdminFixture
  let game: GameResult
  let browser: Browser
  let page: Page
  /** Every request the page made that did not go to the service. */
  const foreign: Array<string> = []
  /** Errors the page's script let escape (uncaught exceptions and rejections). */
  const pageErrors: Array<string> = []
  const shot = (name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true })
  /** Form controls on the page that no label names (a screen reader would announce them blank). */
  const unlabelled = () =>
    page.locator("input:not([type=hidden]), select, textarea").evaluateAll((els) =>
      els.filter((el) => (el as unknown as { labels: { length: number } }).labels.length === 0 && !el.getAttribute("aria-label")).map((el) => el.outerHTML))

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true })
    // With the history tier on a PostgreSQL of the test's own: the charts are SQL over the archive plus Redis' tail.
    postgres = await startTestPostgresServer()
    f = await startAdminFixture({ HISTORY_ARCHIVE: "on", DATABASE_URL: postgres.url })
    game = await playGameOverGrpc(f, { prefix: "ui", hands: 3 })
    browser = await launchChromium()
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    page.on("pageerror", (e) => pageErrors.push(e.message))
    const origin = new URL(f.service.httpUrl).origin
    await page.route("**/*", (route) => {
      const url = route.request().url()
      if (url.startsWith(origin) || url.startsWith("data:")) return route.continue()
      foreign.push(url)
      return route.abort()
    })
  })
  afterAll(async () => {
    await browser?.close()
    await f?.stop()
    await postgres?.dispose()
  })

  it("signs in with the admin key, kept in this tab's session storage only", async () => {
    await page.goto(`${f.service.httpUrl}/admin`)
    await eventually(`page.getByRole("heading", { name: "Sign in" }).isVisible() is true`, async () => (await page.getByRole("heading", { name: "Sign in" }).isVisible()) === true)
    await page.getByLabel("Key or token").fill("wrong-key")
    await page.getByRole("button", { name: "Sign in" }).click()
    await eventually(`page.locator("#sign-in-error").textContent() contains "sign in again"`, async () => ((await page.locator("#sign-in-error").textContent()) ?? "").includes("sign in again"))
    assert.isFalse(await page.getByRole("navigation", { name: "Console pages" }).isVisible(), "no page links before sign-in")
    await page.getByLabel("Key or token").fill(ADMIN_KEY)
    await page.keyboard.press("Enter")
    await page.getByRole("heading", { name: "Overview" }).waitFor()
    assert.isTrue(await page.getByRole("navigation", { name: "Console pages" }).isVisible())
    const storage = await page.evaluate(() => ({ local: localStorage.length, session: sessionStorage.getItem("balance-admin-credential") }))
    assert.strictEqual(storage.local, 0)
    assert.deepStrictEqual(JSON.parse(storage.session!), { kind: "key", value: ADMIN_KEY })
  })

  it("overview: health, the archive's leader, supply figures and a chart with the game's data", async () => {
    // The archiver takes its lease within an interval of the start; the page shows who holds it.
    await eventually("GET /admin/archive names a leader", async () => (await adminCall(f, "GET", "/admin/archive")).leader !== null, { timeoutMs: 30_000 })
    const archive = await adminCall(f, "GET", "/admin/archive")
    await page.reload()
    await page.locator("#archive-leader").waitFor()
    assert.strictEqual(await page.locator("#archive-leader").textContent(),
      `leader ${archive.leader.owner} · fencing token ${archive.leader.fencingToken.toLocaleString("en-US")}`)
    assert.match((await page.locator("#archive-state").textContent()) ?? "", /^(ACTIVE|LAGGING) · lag /)
    await page.locator("#supply-figures").waitFor()
    await page.locator("#supply-chart svg").waitFor()
    const supply = await adminCall(f, "GET", "/admin/supply")
    assert.include(await page.locator("#supply-figures").textContent(), supply.circulation.toLocaleString("en-US"))
    // The circulation line's last point is the circulation now; the raked bars add up to the game's rake.
    const lastPoint = await page.locator('#supply-chart g[data-series="circulation"] circle title').last().textContent()
    assert.include(lastPoint, `circulation ${supply.circulation.toLocaleString("en-US")}`)
    const raked = await page.locator('#flows-chart g[data-series="raked"] rect title').allTextContents()
    assert.strictEqual(raked.reduce((sum, t) => sum + Number(/raked ([\d,]+)/.exec(t)![1]!.replace(/,/g, "")), 0), game.raked)
    assert.include(await page.locator("#economy").textContent(), game.tableId)
    assert.deepStrictEqual(await unlabelled(), [])
    await shot("overview")
  })

  it("account lookup: search by prefix, then balance, ledger and transfers", async () => {
    await page.getByRole("link", { name: "Accounts" }).click()
    await page.getByLabel("Account id or its beginning").fill("ui-p")
    await page.getByRole("button", { name: "Find" }).click()
    await page.getByRole("link", { name: "ui-p1" }).click()
    await page.getByRole("heading", { name: "Account ui-p1" }).waitFor()
    const balance = (await adminCall(f, "GET", "/accounts/ui-p1/balance")).balance as number
    await eventually(`page.locator("#balance").textContent() is balance.toLocaleString("en-US")`, async () => (await page.locator("#balance").textContent()) === balance.toLocaleString("en-US"))
    await page.locator("#account-ledger table").waitFor()
    await page.locator("#account-transfers table").waitFor()
    assert.include(await page.locator("#account-ledger").textContent(), "GRANT")
    assert.include(await page.locator("#account-transfers").textContent(), "CASH_OUT")
    assert.deepStrictEqual(await unlabelled(), [])
    await shot("account")
  })

  it("an id that is no account, or not a valid id: said once on the account page, nothing escapes the page's script", async () => {
    for (const [id, code] of [["ui-nobody", "404 ACCOUNT_NOT_FOUND"], ["bad id", "400 INVALID_ACCOUNT_ID"]] as const) {
      pageErrors.length = 0
      await page.evaluate((hash) => { (globalThis as unknown as { location: { hash: string } }).location.hash = hash }, `#/accounts/${encodeURIComponent(id)}`)
      await page.getByRole("heading", { name: `Account ${id}` }).waitFor()
      await eventually(`page.locator("#account-summary").textContent() contains code`, async () => ((await page.locator("#account-summary").textContent()) ?? "").includes(code))
      await eventually(`page.title() is \`Account \${id} · balance-service\``, async () => (await page.title()) === `Account ${id} · balance-service`)
      assert.strictEqual(await page.locator("#page [role=alert]").count(), 1)
      assert.deepStrictEqual(pageErrors, [])
    }
    await page.evaluate(() => { (globalThis as unknown as { location: { hash: string } }).location.hash = "#/accounts/ui-p1" })
    await page.locator("#account-ledger table").waitFor()
  })

  it("deposit: the key is generated and shown, the result names the ledger entry it made", async () => {
    const before = (await adminCall(f, "GET", "/accounts/ui-p1/balance")).balance as number
    await page.getByRole("link", { name: "Deposit or withdraw for this account" }).click()
    const key = await page.getByLabel(/Idempotency key/).inputValue()
    assert.match(key, /^console-[0-9a-f-]{36}$/)
    await page.getByLabel("Amount (chips)").fill("123")
    await page.getByLabel("Source (deposits)").selectOption("PROMO")
    await page.getByRole("button", { name: "Submit" }).click()
    await page.locator("#money-result table").waitFor()
    const result = await page.locator("#money-result").textContent()
    assert.include(result, "Deposited 123 chips")
    assert.include(result, key)
    assert.strictEqual(await page.locator("#money-result table tbody tr td").nth(1).textContent(), "DEPOSIT")
    assert.strictEqual(await page.locator("#money-result table tbody tr td").nth(2).textContent(), "123")
    assert.strictEqual((await adminCall(f, "GET", "/accounts/ui-p1/balance")).balance, before + 123)
    // A fresh key for the next one: pressing Submit twice by accident does not deposit twice with the same key, and a new form gets a new key.
    assert.notStrictEqual(await page.getByLabel(/Idempotency key/).inputValue(), key)
    assert.deepStrictEqual(await unlabelled(), [])
    await shot("deposit")
  })

  it("a long ledger opens on its newest page and pages back without gaps or repeats", async () => {
    await adminCall(f, "POST", "/accounts/ui-long", { initialBalance: 0 })
    for (let i = 1; i <= 25; i++) await adminCall(f, "POST", "/accounts/ui-long/deposit", { amount: i, source: "PROMO" }, { "idempotency-key": `ui-long-${i}` })
    await page.goto(`${f.service.httpUrl}/admin#/accounts/ui-long`)
    const ledger = page.locator("#account-ledger")
    const seqs = async () => (await ledger.locator("tbody tr td:first-child").allTextContents()).map(Number)
    await eventually(`ledger.locator("caption").textContent() is "Ledger: hash-chained entries 6–25 of 25"`, async () => (await ledger.locator("caption").textContent()) === "Ledger: hash-chained entries 6–25 of 25")
    assert.deepStrictEqual(await seqs(), Array.from({ length: 20 }, (_, i) => i + 6))
    await ledger.getByRole("button", { name: "Older entries" }).click()
    await eventually(`ledger.locator("caption").textContent() is "Ledger: hash-chained entries 1–5 of 25"`, async () => (await ledger.locator("caption").textContent()) === "Ledger: hash-chained entries 1–5 of 25")
    assert.deepStrictEqual(await seqs(), [1, 2, 3, 4, 5])
    assert.strictEqual(await ledger.getByRole("button", { name: "Older entries" }).isDisabled(), true)
    await ledger.getByRole("button", { name: "Newer entries" }).click()
    await eventually(`seqs() equals Array.from({ length: 20 }, (_, i) => i + 6)`, async () => JSON.stringify(await seqs()) === JSON.stringify(Array.from({ length: 20 }, (_, i) => i + 6)))
  })

  it("runs a verification and follows its progress to the report", async () => {
    await page.getByRole("link", { name: "Verification" }).click()
    await page.getByLabel("What to verify").selectOption("full")
    await page.getByRole("button", { name: "Run verification" }).click()
    await page.locator("#verify-outcome").waitFor()
    assert.match((await page.locator("#verify-outcome").textContent()) ?? "", /^OK/)
    const progress = await page.locator("#verify-progress").evaluate((el) => { const p = el as unknown as { value: number; max: number }; return { value: p.value, max: p.max } })
    assert.strictEqual(progress.value, progress.max)
    assert.isAbove(progress.max, 3)
    assert.match((await page.locator("#verify-progress-text").textContent()) ?? "", /^DONE: .* 0 findings$/)
    assert.deepStrictEqual(await unlabelled(), [])
    await shot("verification")
  })

  it("tables and hands: stacks and a settled pot with its contributions", async () => {
    await page.getByRole("link", { name: "Tables & hands" }).click()
    await page.getByLabel("Table id").fill(game.tableId)
    await page.getByLabel("Hand id (optional)").fill("h1")
    await page.getByRole("button", { name: "Show" }).click()
    await page.getByRole("heading", { name: /Hand h1: SETTLED/ }).waitFor()
    assert.include(await page.locator("#table-result").textContent(), "ui-p2")
    assert.deepStrictEqual(await unlabelled(), [])
    await shot("table")
  })

  it("reviews and retries a dead-lettered credit", async () => {
    const id = "5e7f0a1b-2c3d-4e5f-8a9b-0c1d2e3f4a5b"
    await appendDeadLetter(deadLetterPath(f.service.dataDir), {
      id, enqueuedAt: Date.now(), deadLetteredAt: Date.now(),
      command: { op: "Deposit", accountId: "ui-p3", amount: 77, source: "PROMO", idempotencyKey: "ui-dead-deposit" },
      error: "ACCOUNT_NOT_FOUND", message: "account ui-p3 does not exist"
    })
    const before = (await adminCall(f, "GET", "/accounts/ui-p3/balance")).balance as number
    await page.getByRole("link", { name: "Dead letters" }).click()
    await page.getByRole("button", { name: `Retry ${id}` }).waitFor()
    assert.deepStrictEqual(await unlabelled(), [])
    await shot("dead-letters")
    await page.getByRole("button", { name: `Retry ${id}` }).click()
    await eventually(`page.locator("#status").textContent() is "Retry APPLIED"`, async () => (await page.locator("#status").textContent()) === "Retry APPLIED")
    assert.strictEqual((await adminCall(f, "GET", "/accounts/ui-p3/balance")).balance, before + 77)
    await page.getByLabel("Show").selectOption("RESOLVED")
    await eventually(`page.locator("#dead-letters").textContent() contains "APPLIED"`, async () => ((await page.locator("#dead-letters").textContent()) ?? "").includes("APPLIED"))
  })

  it("a request the service never answers: after 30 s the page says so instead of loading forever", async () => {
    // A tab of its own, signed in, on the browser's fake clock; the balance request is held unanswered.
    const tab = await browser.newPage()
    try {
      await tab.clock.install()
      await tab.addInitScript((key) => sessionStorage.setItem("balance-admin-credential", JSON.stringify({ kind: "key", value: key })), ADMIN_KEY)
      const held: Array<string> = []
      await tab.route("**/api/accounts/ui-p1/balance", (route) => void held.push(route.request().url()))
      await tab.goto(`${f.service.httpUrl}/admin#/accounts/ui-p1`)
      await tab.getByRole("heading", { name: "Account ui-p1" }).waitFor()
      await eventually("the balance request to be sent and held", () => held.length > 0)
      await tab.clock.fastForward(30_001)
      await eventually(`#account-summary says the service did not answer`, async () =>
        ((await tab.locator("#account-summary").textContent()) ?? "").includes("no answer from the service within 30 s"))
    } finally {
      await tab.close()
    }
  })

  it("loaded nothing from outside the service; assets are cached, the page revalidated; signing out forgets the key", async () => {
    assert.deepStrictEqual(foreign, [])
    const html = await fetch(`${f.service.httpUrl}/admin`)
    assert.strictEqual(html.headers.get("cache-control"), "no-cache")
    assert.include(html.headers.get("content-security-policy"), "default-src 'none'")
    const script = /src="(\/admin\/assets\/console\.js\?v=[0-9a-f]+)"/.exec(await html.text())![1]!
    const asset = await fetch(`${f.service.httpUrl}${script}`)
    assert.strictEqual(asset.headers.get("cache-control"), "public, max-age=31536000, immutable")
    const again = await fetch(`${f.service.httpUrl}${script}`, { headers: { "if-none-match": asset.headers.get("etag")! } })
    assert.strictEqual(again.status, 304)
    await page.getByRole("button", { name: "Sign out" }).click()
    await page.getByRole("heading", { name: "Sign in" }).waitFor()
    assert.strictEqual(await page.evaluate(() => sessionStorage.length + localStorage.length), 0)
  })

  it("signs in with an admin JWT too; a player's token is refused; the keyboard alone gets around", async () => {
    await page.getByLabel("Admin JWT").check()
    await page.getByLabel("Key or token").fill(await playerToken("ui-p1"))
    await page.getByRole("button", { name: "Sign in" }).click()
    await eventually(`page.locator("#sign-in-error").textContent() contains "not an admin's"`, async () => ((await page.locator("#sign-in-error").textContent()) ?? "").includes("not an admin's"))
    await page.getByLabel("Key or token").fill(await adminToken())
    await page.getByLabel("Key or token").press("Enter")
    // Back on the page the address names (the last one visited).
    await page.getByRole("heading", { name: "Dead-lettered credits" }).waitFor()
    // Rendering ends by moving focus to the page.
    await eventually(`page.evaluate("document.activeElement?.id") is "main"`, async () => (await page.evaluate("document.activeElement?.id")) === "main")
    // From the skip link (the first stop of the page), Tab walks the navigation; Enter follows a link.
    await page.getByRole("link", { name: "Skip to content" }).focus()
    for (let i = 0; i < 2; i++) await page.keyboard.press("Tab")
    assert.strictEqual(await page.evaluate("document.activeElement?.textContent"), "Accounts")
    await page.keyboard.press("Enter")
    await page.getByRole("heading", { name: "Accounts" }).waitFor()
    assert.strictEqual(await page.evaluate("document.activeElement?.id"), "prefix")
  })
})

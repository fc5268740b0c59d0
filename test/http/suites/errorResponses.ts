import { request } from "node:http"
import { assert, describe, it } from "@effect/vitest"
import type { Reply } from "../support/client.ts"
import type { SuiteContext } from "../support/httpApiSuite.ts"
import { execute, newAccount, uniqueId } from "../support/seed.ts"
import { ADMIN_KEY } from "../support/testServer.ts"

/** Every error, whatever produced it, is `{ error, message, details? }` as JSON, without a stack trace. */
export const expectErrorShape = (reply: Reply, status: number, code: string) => {
  assert.strictEqual(reply.status, status)
  assert.include(reply.headers.get("content-type"), "application/json")
  assert.strictEqual(reply.body.error, code)
  assert.strictEqual(typeof reply.body.message, "string")
  assert.isTrue(Object.keys(reply.body).every((k) => ["error", "message", "details"].includes(k)))
  assert.notMatch(reply.text, /\bat .+\.(ts|js):\d+/)
}

export const errorResponses = ({ server, client }: SuiteContext) =>
  describe("error responses", () => {
    /** `key: null` sends no Idempotency-Key at all. */
    const deposit = (id: string, body: unknown, key: string | null = uniqueId("k")) =>
      client().admin.post(`/api/accounts/${id}/deposit`, { body, headers: key === null ? {} : { "idempotency-key": key } })

    it.each([
      ["a fraction", 1.5, "amount must be an integer"],
      ["a negative amount", -5, "amount must be greater than 0"],
      ["zero", 0, "amount must be greater than 0"],
      ["more than MAX_SAFE_INTEGER", 9007199254740992, "amount must be at most 9007199254740991"],
      ["a string", "10", "Expected number"]
    ])("an amount that is %s is 400 INVALID_AMOUNT naming the field", async (_what, amount, message) => {
      const id = await newAccount(server(), "amt")
      const reply = await deposit(id, { amount, source: "ADMIN" })
      expectErrorShape(reply, 400, "INVALID_AMOUNT")
      assert.include(reply.body.message, "amount")
      assert.containSubset(reply.body.details.issues[0], { in: "body", path: "amount" })
      assert.include(reply.body.details.issues[0].message, message)
    })

    it("an unknown body field is 400 and names it; nothing moves", async () => {
      const id = await newAccount(server(), "excess")
      const reply = await deposit(id, { amount: 5, source: "ADMIN", bonus: 1000 })
      expectErrorShape(reply, 400, "INVALID_ARGUMENT")
      assert.deepStrictEqual(reply.body.details.issues, [{ in: "body", path: "bonus", message: "is not a known field" }])
      assert.strictEqual((await client().admin.get(`/api/accounts/${id}/balance`)).body.balance, 0)
    })

    it("a missing required field is 400 naming it", async () => {
      const id = await newAccount(server(), "missing")
      const reply = await deposit(id, { amount: 5 })
      expectErrorShape(reply, 400, "INVALID_REASON")
      assert.deepStrictEqual(reply.body.details.issues, [{ in: "body", path: "source", message: "is required" }])
    })

    it("deposit and withdraw without Idempotency-Key are 400 MISSING_IDEMPOTENCY_KEY", async () => {
      const id = await newAccount(server(), "nokey", 10)
      expectErrorShape(await deposit(id, { amount: 5, source: "ADMIN" }, null), 400, "MISSING_IDEMPOTENCY_KEY")
      expectErrorShape(await client().admin.post(`/api/accounts/${id}/withdraw`, { body: { amount: 5 } }), 400, "MISSING_IDEMPOTENCY_KEY")
      expectErrorShape(await deposit(id, { amount: 5, source: "ADMIN" }, "has spaces"), 400, "INVALID_IDEMPOTENCY_KEY")
    })

    it("invalid path, query and body syntax are 400 with the location", async () => {
      const id = await newAccount(server(), "syntax")
      const badId = await client().admin.get("/api/accounts/no:colons/balance")
      expectErrorShape(badId, 400, "INVALID_ACCOUNT_ID")
      assert.containSubset(badId.body.details.issues[0], { in: "path", path: "accountId" })
      const badLimit = await client().admin.get(`/api/accounts/${id}/transactions?limit=500`)
      expectErrorShape(badLimit, 400, "INVALID_ARGUMENT")
      assert.deepStrictEqual(badLimit.body.details.issues[0], { in: "query", path: "limit", message: "limit must be at most 200" })
      expectErrorShape(await client().admin.get(`/api/accounts/${id}/transactions?type=LOTTERY`), 400, "INVALID_ARGUMENT")
      expectErrorShape(await client().admin.get(`/api/accounts/${id}/transactions?cursor=bm9wZQ`), 400, "INVALID_CURSOR")
      expectErrorShape(
        await client().admin.post(`/api/accounts/${id}/deposit`, { rawBody: "{\"amount\":", headers: { "idempotency-key": uniqueId("k") } }),
        400,
        "INVALID_BODY"
      )
    })

    it("ids up to the longest valid length (128) are served on every route; longer ones are 400 naming the parameter", async () => {
      const id = uniqueId("len").padEnd(128, "x")
      await execute(server(), { op: "EnsureAccount", accountId: id, initialBalance: 0 })
      assert.strictEqual((await client().admin.get(`/api/accounts/${id}/balance`)).status, 200)
      assert.strictEqual((await client().admin.get(`/api/accounts/${id}/ledger`)).status, 200)
      assert.strictEqual((await deposit(id, { amount: 5, source: "ADMIN" })).status, 200)
      const tooLong = await client().admin.get(`/api/accounts/${id}y/balance`)
      expectErrorShape(tooLong, 400, "INVALID_ACCOUNT_ID")
      assert.containSubset(tooLong.body.details.issues[0], { in: "path", path: "accountId" })
      assert.include(tooLong.body.details.issues[0].message, "128")
      expectErrorShape(await client().admin.get(`/api/accounts/${"z".repeat(5000)}/balance`), 400, "INVALID_ACCOUNT_ID")
    })

    it.each([["1e1"], ["%205"], ["0x10"], ["5.0"], [""]])("limit=%s is 400 naming the limit", async (limit) => {
      const id = await newAccount(server(), "lim")
      const reply = await client().admin.get(`/api/accounts/${id}/transactions?limit=${limit}`)
      expectErrorShape(reply, 400, "INVALID_ARGUMENT")
      assert.containSubset(reply.body.details.issues[0], { in: "query", path: "limit" })
    })

    it("a cursor of another account's history is refused", async () => {
      const a = await newAccount(server(), "cura", 1)
      const b = await newAccount(server(), "curb", 1)
      for (let i = 0; i < 2; i++) await deposit(a, { amount: 1, source: "ADMIN" })
      const page = await client().admin.get(`/api/accounts/${a}/transactions?limit=1`)
      expectErrorShape(await client().admin.get(`/api/accounts/${b}/transactions?cursor=${page.body.nextCursor}`), 400, "INVALID_CURSOR")
    })

    it("an unknown account is 404 ACCOUNT_NOT_FOUND on every account route", async () => {
      const ghost = uniqueId("ghost")
      for (const path of ["balance", "transactions", "ledger", "reservations"]) {
        expectErrorShape(await client().admin.get(`/api/accounts/${ghost}/${path}`), 404, "ACCOUNT_NOT_FOUND")
      }
      expectErrorShape(await deposit(ghost, { amount: 5, source: "ADMIN" }), 404, "ACCOUNT_NOT_FOUND")
      expectErrorShape(
        await client().admin.post(`/api/accounts/${ghost}/withdraw`, { body: { amount: 5 }, headers: { "idempotency-key": uniqueId("w") } }),
        404,
        "ACCOUNT_NOT_FOUND"
      )
    })

    it("an unknown route is 404 NOT_FOUND in the same shape", async () => {
      expectErrorShape(await client().anonymous.get("/api/no/such/route"), 404, "NOT_FOUND")
    })

    it("HEAD answers as GET would, without the body (RFC 9110: curl -I, load-balancer probes)", async () => {
      const head = (path: string) =>
        new Promise<{ status: number; headers: Record<string, unknown>; body: string }>((resolve, reject) => {
          const req = request(`${server().baseUrl}${path}`, { method: "HEAD" }, (res) => {
            let body = ""
            res.on("data", (chunk: Buffer) => (body += chunk.toString()))
            res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
          })
          req.on("error", reject)
          req.end()
        })
      for (const path of ["/api/health", "/api/openapi.json", "/api/docs", "/admin"]) {
        const [reply, get] = [await head(path), await client().anonymous.get(path)]
        assert.deepStrictEqual([path, reply.status, reply.body], [path, get.status, ""])
        assert.strictEqual(reply.headers["content-type"], get.headers.get("content-type"))
      }
      assert.strictEqual((await head("/api/no/such/route")).status, 404)
    })

    it("a body over the limit is 413 PAYLOAD_TOO_LARGE", async () => {
      const id = await newAccount(server(), "big")
      const reply = await client().admin.post(`/api/accounts/${id}/withdraw`, {
        body: { amount: 1, reason: "x".repeat(70_000) },
        headers: { "idempotency-key": uniqueId("w"), "x-request-id": "too-big-1" }
      })
      expectErrorShape(reply, 413, "PAYLOAD_TOO_LARGE")
      // Refused before the body is read, but still a request like any other: its id echoed, counted, logged.
      assert.strictEqual(reply.headers.get("x-request-id"), "too-big-1")
      const metrics = await client().admin.get("/metrics")
      assert.match(metrics.text, /balance_http_requests_total\{[^}]*status="413"[^}]*\} [1-9]/)
    })

    it("a chunked body (no Content-Length) that grows over the limit is 413 too", async () => {
      const id = await newAccount(server(), "chunked")
      const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = request(`${server().baseUrl}/api/accounts/${id}/withdraw`, {
          method: "POST",
          headers: { "content-type": "application/json", "x-admin-key": ADMIN_KEY, "idempotency-key": uniqueId("w") }
        }, (res) => {
          let text = ""
          res.on("data", (chunk: Buffer) => (text += chunk.toString()))
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }))
        })
        req.on("error", reject)
        req.write(`{"amount":1,"reason":"`)
        for (let i = 0; i < 10; i++) req.write("y".repeat(10_000))
        req.end(`"}`)
      })
      assert.strictEqual(status, 413)
      assert.containSubset(JSON.parse(body), { error: "PAYLOAD_TOO_LARGE" })
    })

    it("a body that is not JSON is 415 UNSUPPORTED_MEDIA_TYPE", async () => {
      const id = await newAccount(server(), "form")
      const reply = await client().admin.post(`/api/accounts/${id}/deposit`, {
        rawBody: "amount=5&source=ADMIN",
        headers: { "idempotency-key": uniqueId("k"), "content-type": "application/x-www-form-urlencoded" }
      })
      expectErrorShape(reply, 415, "UNSUPPORTED_MEDIA_TYPE")
    })
  })

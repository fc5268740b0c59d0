import { request } from "node:http"
import { assert, describe } from "@effect/vitest"
import { Effect } from "effect"
import { admin, anonymous, type Reply } from "../support/client.ts"
import type { HttpApiIt } from "../support/httpApiSuite.ts"
import { createAccount, executeCommand, uniqueId } from "../support/seed.ts"
import { ADMIN_KEY, TestHttpServer } from "../support/testServer.ts"

/** Every error, whatever produced it, is `{ error, message, details? }` as JSON, without a stack trace. */
export const expectErrorShape = (reply: Reply, status: number, code: string) => {
  assert.strictEqual(reply.status, status)
  assert.include(reply.headers.get("content-type"), "application/json")
  assert.strictEqual(reply.body.error, code)
  assert.strictEqual(typeof reply.body.message, "string")
  assert.isTrue(Object.keys(reply.body).every((k) => ["error", "message", "details"].includes(k)))
  assert.notMatch(reply.text, /\bat .+\.(ts|js):\d+/)
}

/**
 * One request through node:http, for what fetch will not send: a HEAD whose (absent) body is
 * shown as received, or a body in chunks without Content-Length.
 */
const rawRequest = (path: string, method: string, options: {
  readonly headers?: Readonly<Record<string, string>>
  readonly chunks?: ReadonlyArray<string>
} = {}) =>
  TestHttpServer.use((server) =>
    Effect.promise(() =>
      new Promise<{ status: number; headers: Record<string, unknown>; body: string }>((resolve, reject) => {
        const req = request(`${server.baseUrl}${path}`, { method, headers: options.headers ?? {} }, (res) => {
          let body = ""
          res.on("data", (chunk: Buffer) => (body += chunk.toString()))
          res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
        })
        req.on("error", reject)
        for (const chunk of options.chunks ?? []) req.write(chunk)
        req.end()
      })
    ))

export const errorResponses = (it: HttpApiIt) =>
  describe("error responses", () => {
    /** `key: null` sends no Idempotency-Key at all. */
    const deposit = (id: string, body: unknown, key: string | null = uniqueId("k")) =>
      admin.post(`/api/accounts/${id}/deposit`, { body, headers: key === null ? {} : { "idempotency-key": key } })

    it.effect.each([
      ["a fraction", 1.5, "amount must be an integer"],
      ["a negative amount", -5, "amount must be greater than 0"],
      ["zero", 0, "amount must be greater than 0"],
      ["more than MAX_SAFE_INTEGER", 9007199254740992, "amount must be at most 9007199254740991"],
      ["a string", "10", "Expected number"]
    ] as const)("an amount that is %s is 400 INVALID_AMOUNT naming the field", ([_what, amount, message]) => Effect.gen(function*() {
      const id = yield* createAccount("amt")
      const reply = yield* deposit(id, { amount, source: "ADMIN" })
      expectErrorShape(reply, 400, "INVALID_AMOUNT")
      assert.include(reply.body.message, "amount")
      assert.containSubset(reply.body.details.issues[0], { in: "body", path: "amount" })
      assert.include(reply.body.details.issues[0].message, message)
    }))

    it.effect("an unknown body field is 400 and names it; nothing moves", () => Effect.gen(function*() {
      const id = yield* createAccount("excess")
      const reply = yield* deposit(id, { amount: 5, source: "ADMIN", bonus: 1000 })
      expectErrorShape(reply, 400, "INVALID_ARGUMENT")
      assert.deepStrictEqual(reply.body.details.issues, [{ in: "body", path: "bonus", message: "is not a known field" }])
      assert.strictEqual((yield* admin.get(`/api/accounts/${id}/balance`)).body.balance, 0)
    }))

    it.effect("a missing required field is 400 naming it", () => Effect.gen(function*() {
      const id = yield* createAccount("missing")
      const reply = yield* deposit(id, { amount: 5 })
      expectErrorShape(reply, 400, "INVALID_REASON")
      assert.deepStrictEqual(reply.body.details.issues, [{ in: "body", path: "source", message: "is required" }])
    }))

    it.effect("deposit and withdraw without Idempotency-Key are 400 MISSING_IDEMPOTENCY_KEY", () => Effect.gen(function*() {
      const id = yield* createAccount("nokey", 10)
      expectErrorShape(yield* deposit(id, { amount: 5, source: "ADMIN" }, null), 400, "MISSING_IDEMPOTENCY_KEY")
      expectErrorShape(yield* admin.post(`/api/accounts/${id}/withdraw`, { body: { amount: 5 } }), 400, "MISSING_IDEMPOTENCY_KEY")
      expectErrorShape(yield* deposit(id, { amount: 5, source: "ADMIN" }, "has spaces"), 400, "INVALID_IDEMPOTENCY_KEY")
    }))

    it.effect("invalid path, query and body syntax are 400 with the location", () => Effect.gen(function*() {
      const id = yield* createAccount("syntax")
      const badId = yield* admin.get("/api/accounts/no:colons/balance")
      expectErrorShape(badId, 400, "INVALID_ACCOUNT_ID")
      assert.containSubset(badId.body.details.issues[0], { in: "path", path: "accountId" })
      const badLimit = yield* admin.get(`/api/accounts/${id}/transactions?limit=500`)
      expectErrorShape(badLimit, 400, "INVALID_ARGUMENT")
      assert.deepStrictEqual(badLimit.body.details.issues[0], { in: "query", path: "limit", message: "limit must be at most 200" })
      expectErrorShape(yield* admin.get(`/api/accounts/${id}/transactions?type=LOTTERY`), 400, "INVALID_ARGUMENT")
      expectErrorShape(yield* admin.get(`/api/accounts/${id}/transactions?cursor=bm9wZQ`), 400, "INVALID_CURSOR")
      expectErrorShape(
        yield* admin.post(`/api/accounts/${id}/deposit`, { rawBody: "{\"amount\":", headers: { "idempotency-key": uniqueId("k") } }),
        400,
        "INVALID_BODY"
      )
    }))

    it.effect("ids up to the longest valid length (128) are served on every route; longer ones are 400 naming the parameter", () => Effect.gen(function*() {
      const id = uniqueId("len").padEnd(128, "x")
      yield* executeCommand({ op: "EnsureAccount", accountId: id, initialBalance: 0 })
      assert.strictEqual((yield* admin.get(`/api/accounts/${id}/balance`)).status, 200)
      assert.strictEqual((yield* admin.get(`/api/accounts/${id}/ledger`)).status, 200)
      assert.strictEqual((yield* deposit(id, { amount: 5, source: "ADMIN" })).status, 200)
      const tooLong = yield* admin.get(`/api/accounts/${id}y/balance`)
      expectErrorShape(tooLong, 400, "INVALID_ACCOUNT_ID")
      assert.containSubset(tooLong.body.details.issues[0], { in: "path", path: "accountId" })
      assert.include(tooLong.body.details.issues[0].message, "128")
      expectErrorShape(yield* admin.get(`/api/accounts/${"z".repeat(5000)}/balance`), 400, "INVALID_ACCOUNT_ID")
    }))

    it.effect.each([["1e1"], ["%205"], ["0x10"], ["5.0"], [""]])("limit=%s is 400 naming the limit", ([limit]) => Effect.gen(function*() {
      const id = yield* createAccount("lim")
      const reply = yield* admin.get(`/api/accounts/${id}/transactions?limit=${limit}`)
      expectErrorShape(reply, 400, "INVALID_ARGUMENT")
      assert.containSubset(reply.body.details.issues[0], { in: "query", path: "limit" })
    }))

    it.effect("a cursor of another account's history is refused", () => Effect.gen(function*() {
      const a = yield* createAccount("cura", 1)
      const b = yield* createAccount("curb", 1)
      for (let i = 0; i < 2; i++) yield* deposit(a, { amount: 1, source: "ADMIN" })
      const page = yield* admin.get(`/api/accounts/${a}/transactions?limit=1`)
      expectErrorShape(yield* admin.get(`/api/accounts/${b}/transactions?cursor=${page.body.nextCursor}`), 400, "INVALID_CURSOR")
    }))

    it.effect("an unknown account is 404 ACCOUNT_NOT_FOUND on every account route", () => Effect.gen(function*() {
      const ghost = uniqueId("ghost")
      for (const path of ["balance", "transactions", "ledger", "reservations"]) {
        expectErrorShape(yield* admin.get(`/api/accounts/${ghost}/${path}`), 404, "ACCOUNT_NOT_FOUND")
      }
      expectErrorShape(yield* deposit(ghost, { amount: 5, source: "ADMIN" }), 404, "ACCOUNT_NOT_FOUND")
      expectErrorShape(
        yield* admin.post(`/api/accounts/${ghost}/withdraw`, { body: { amount: 5 }, headers: { "idempotency-key": uniqueId("w") } }),
        404,
        "ACCOUNT_NOT_FOUND"
      )
    }))

    it.effect("an unknown route is 404 NOT_FOUND in the same shape", () => Effect.gen(function*() {
      expectErrorShape(yield* anonymous.get("/api/no/such/route"), 404, "NOT_FOUND")
    }))

    it.effect("HEAD answers as GET would, without the body (RFC 9110: curl -I, load-balancer probes)", () => Effect.gen(function*() {
      const head = (path: string) => rawRequest(path, "HEAD")
      for (const path of ["/api/health", "/api/openapi.json", "/api/docs", "/admin"]) {
        const [reply, get] = [yield* head(path), yield* anonymous.get(path)]
        assert.deepStrictEqual([path, reply.status, reply.body], [path, get.status, ""])
        assert.strictEqual(reply.headers["content-type"], get.headers.get("content-type"))
      }
      assert.strictEqual((yield* head("/api/no/such/route")).status, 404)
    }))

    it.effect("a body over the limit is 413 PAYLOAD_TOO_LARGE", () => Effect.gen(function*() {
      const id = yield* createAccount("big")
      const reply = yield* admin.post(`/api/accounts/${id}/withdraw`, {
        body: { amount: 1, reason: "x".repeat(70_000) },
        headers: { "idempotency-key": uniqueId("w"), "x-request-id": "too-big-1" }
      })
      expectErrorShape(reply, 413, "PAYLOAD_TOO_LARGE")
      // Refused before the body is read, but still a request like any other: its id echoed, counted, logged.
      assert.strictEqual(reply.headers.get("x-request-id"), "too-big-1")
      const metrics = yield* admin.get("/metrics")
      assert.match(metrics.text, /balance_http_requests_total\{[^}]*status="413"[^}]*\} [1-9]/)
    }))

    it.effect("a chunked body (no Content-Length) that grows over the limit is 413 too", () => Effect.gen(function*() {
      const id = yield* createAccount("chunked")
      const { status, body } = yield* rawRequest(`/api/accounts/${id}/withdraw`, "POST", {
        headers: { "content-type": "application/json", "x-admin-key": ADMIN_KEY, "idempotency-key": uniqueId("w") },
        chunks: [`{"amount":1,"reason":"`, ...Array.from({ length: 10 }, () => "y".repeat(10_000)), `"}`]
      })
      assert.strictEqual(status, 413)
      assert.containSubset(JSON.parse(body), { error: "PAYLOAD_TOO_LARGE" })
    }))

    it.effect("a body that is not JSON is 415 UNSUPPORTED_MEDIA_TYPE", () => Effect.gen(function*() {
      const id = yield* createAccount("form")
      const reply = yield* admin.post(`/api/accounts/${id}/deposit`, {
        rawBody: "amount=5&source=ADMIN",
        headers: { "idempotency-key": uniqueId("k"), "content-type": "application/x-www-form-urlencoded" }
      })
      expectErrorShape(reply, 415, "UNSUPPORTED_MEDIA_TYPE")
    }))
  })

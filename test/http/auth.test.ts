import { mkdtempSync, readFileSync, rmSync, statSync, existsSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { ConfigProvider, Layer } from "effect"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { vi } from "vitest"
import { AuthSettings } from "../../src/api/http/auth/AuthSettings.ts"
import { MemoryStore } from "../../src/store/memory/MemoryStore.ts"
import { call, clientFor, hsToken, playerToken } from "./support/client.ts"
import { makeSigningKey, startJwksServer } from "./support/jwks.ts"
import { execute, uniqueId } from "./support/seed.ts"
import { ADMIN_KEY, startTestServer, type TestServer } from "./support/testServer.ts"
import { expectErrorShape } from "./suites/errorResponses.ts"

const configured = (env: Record<string, string>) =>
  AuthSettings.layer.pipe(Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown(env))))

describe("auth matrix (HS256 secret + admin key)", () => {
  let server: TestServer
  let alice = ""
  beforeAll(async () => {
    server = await startTestServer(MemoryStore.layer)
    alice = uniqueId("alice")
    await execute(server, { op: "EnsureAccount", accountId: alice, initialBalance: 100 })
  })
  afterAll(() => server.close())
  const get = (path: string, headers: Record<string, string>) => call(server.baseUrl, "GET", path, { headers })
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

  it("no credentials: 401 MISSING_CREDENTIALS on player and admin routes", async () => {
    const reply = await get(`/api/accounts/${alice}/balance`, {})
    expectErrorShape(reply, 401, "MISSING_CREDENTIALS")
    assert.match(reply.headers.get("www-authenticate") ?? "", /^Bearer /)
    expectErrorShape(await get("/api/admin/supply", {}), 401, "MISSING_CREDENTIALS")
  })

  it("a token signed with another secret: 401 INVALID_TOKEN", async () => {
    const forged = await hsToken({ roles: ["admin"] }, { subject: alice, secret: "some-other-secret-of-enough-length-000000" })
    expectErrorShape(await get(`/api/accounts/${alice}/balance`, bearer(forged)), 401, "INVALID_TOKEN")
  })

  it("a malformed token, an unsigned (alg none) token and a Basic header: 401", async () => {
    const none = `${Buffer.from(JSON.stringify({ alg: "none" })).toString("base64url")}.${Buffer.from(JSON.stringify({ sub: alice, roles: ["admin"] })).toString("base64url")}.`
    expectErrorShape(await get(`/api/accounts/${alice}/balance`, bearer("not-a-jwt")), 401, "INVALID_TOKEN")
    expectErrorShape(await get(`/api/accounts/${alice}/balance`, bearer(none)), 401, "INVALID_TOKEN")
    expectErrorShape(await get(`/api/accounts/${alice}/balance`, { authorization: "Basic YWRtaW46YWRtaW4=" }), 401, "INVALID_CREDENTIALS")
  })

  it("an expired token: 401 TOKEN_EXPIRED", async () => {
    const expired = await hsToken({}, { subject: alice, expiresIn: Math.floor(Date.now() / 1000) - 60 })
    expectErrorShape(await get(`/api/accounts/${alice}/balance`, bearer(expired)), 401, "TOKEN_EXPIRED")
  })

  it("a token without sub: 401 INVALID_TOKEN", async () => {
    expectErrorShape(await get(`/api/accounts/${alice}/balance`, bearer(await hsToken({}))), 401, "INVALID_TOKEN")
  })

  it("another player's token: 403 FORBIDDEN on every account route", async () => {
    const mallory = bearer(await playerToken("mallory"))
    for (const path of ["balance", "transactions", "ledger", "reservations"]) {
      expectErrorShape(await get(`/api/accounts/${alice}/${path}`, mallory), 403, "FORBIDDEN")
    }
  })

  it("a player on admin routes, or moving chips on their own account: 403 ADMIN_REQUIRED", async () => {
    const own = await playerToken(alice)
    expectErrorShape(await get("/api/admin/accounts", bearer(own)), 403, "ADMIN_REQUIRED")
    const deposit = await call(server.baseUrl, "POST", `/api/accounts/${alice}/deposit`, {
      token: own,
      body: { amount: 1_000_000, source: "ADMIN" },
      headers: { "idempotency-key": uniqueId("k") }
    })
    expectErrorShape(deposit, 403, "ADMIN_REQUIRED")
    assert.strictEqual((await get(`/api/accounts/${alice}/balance`, bearer(own))).body.balance, 100)
  })

  it("the player's own token reads their account", async () => {
    const reply = await get(`/api/accounts/${alice}/balance`, bearer(await playerToken(alice)))
    assert.deepStrictEqual([reply.status, reply.body.accountId], [200, alice])
  })

  it("X-Admin-Key: the right key is an admin, a wrong one is 401 INVALID_ADMIN_KEY", async () => {
    assert.strictEqual((await get("/api/admin/supply", { "x-admin-key": ADMIN_KEY })).status, 200)
    assert.strictEqual((await get(`/api/accounts/${alice}/balance`, { "x-admin-key": ADMIN_KEY })).status, 200)
    expectErrorShape(await get("/api/admin/supply", { "x-admin-key": `${ADMIN_KEY}x` }), 401, "INVALID_ADMIN_KEY")
  })

  it("a JWT with the admin role (roles array or role string) is an admin everywhere", async () => {
    for (const claims of [{ roles: ["player", "admin"] }, { role: "admin" }]) {
      const token = await hsToken(claims, { subject: "ops" })
      assert.strictEqual((await get("/api/admin/supply", bearer(token))).status, 200)
      assert.strictEqual((await get(`/api/accounts/${alice}/ledger`, bearer(token))).status, 200)
    }
    expectErrorShape(await get("/api/admin/supply", bearer(await hsToken({ roles: ["administrator"] }, { subject: "x" }))), 403, "ADMIN_REQUIRED")
  })

  it("health, readiness and the OpenAPI document need no credentials", async () => {
    for (const path of ["/api/health", "/api/ready", "/api/openapi.json"]) assert.strictEqual((await get(path, {})).status, 200)
  })
})

describe("issuer and audience checks", () => {
  let server: TestServer
  beforeAll(async () => {
    server = await startTestServer(MemoryStore.layer, {
      auth: { hs256Secret: "issuer-test-secret-of-sufficient-length-0000", issuer: "https://auth.poker.test", audience: ["balance"] }
    })
  })
  afterAll(() => server.close())

  it("accepts the configured iss and aud, refuses others", async () => {
    const secret = "issuer-test-secret-of-sufficient-length-0000"
    const token = (claims: Record<string, unknown>) => hsToken({ roles: ["admin"], ...claims }, { subject: "ops", secret })
    const supply = (t: string) => call(server.baseUrl, "GET", "/api/admin/supply", { token: t })
    assert.strictEqual((await supply(await token({ iss: "https://auth.poker.test", aud: "balance" }))).status, 200)
    expectErrorShape(await supply(await token({ iss: "https://evil.test", aud: "balance" })), 401, "INVALID_TOKEN")
    expectErrorShape(await supply(await token({ iss: "https://auth.poker.test", aud: "lobby" })), 401, "INVALID_TOKEN")
    expectErrorShape(await supply(await token({ aud: "balance" })), 401, "INVALID_TOKEN")
  })
})

describe("JWKS (RS256/ES256) with key rotation", () => {
  it("follows a key rotation served by the JWKS endpoint", async () => {
    const keyA = await makeSigningKey("key-a", "RS256")
    const keyB = await makeSigningKey("key-b", "ES256")
    const jwks = await startJwksServer([keyA])
    const server = await startTestServer(MemoryStore.layer, { auth: { jwksUrl: jwks.url, jwksCooldownMs: 0 } })
    try {
      const supply = (token: string) => call(server.baseUrl, "GET", "/api/admin/supply", { token })
      const tokenA = await keyA.sign({ roles: ["admin"] }, "ops")
      assert.strictEqual((await supply(tokenA)).status, 200)
      assert.strictEqual((await supply(tokenA)).status, 200)
      assert.strictEqual(jwks.fetches(), 1)
      // HS256 is not accepted when no shared secret is configured, even with a valid-looking token.
      expectErrorShape(await supply(await hsToken({ roles: ["admin"] }, { subject: "ops" })), 401, "INVALID_TOKEN")

      jwks.serve([keyB])
      const tokenB = await keyB.sign({ roles: ["admin"] }, "ops")
      assert.strictEqual((await supply(tokenB)).status, 200)
      assert.strictEqual(jwks.fetches(), 2)
      expectErrorShape(await supply(tokenA), 401, "INVALID_TOKEN")
    } finally {
      await server.close()
      await jwks.close()
    }
  })

  it("answers 503 AUTH_UNAVAILABLE with Retry-After when the JWKS cannot be fetched", async () => {
    const key = await makeSigningKey("key-c", "RS256")
    const jwks = await startJwksServer([key])
    const url = jwks.url
    await jwks.close()
    const server = await startTestServer(MemoryStore.layer, { auth: { jwksUrl: url } })
    try {
      const reply = await call(server.baseUrl, "GET", "/api/admin/supply", { token: await key.sign({ roles: ["admin"] }, "ops") })
      expectErrorShape(reply, 503, "AUTH_UNAVAILABLE")
      assert.strictEqual(reply.headers.get("retry-after"), "1")
    } finally {
      await server.close()
    }
  })
})

describe("secure by default", () => {
  const dirs: Array<string> = []
  const freshDir = () => {
    const dir = mkdtempSync(join(tmpdir(), "balance-http-auth-"))
    dirs.push(dir)
    return dir
  }
  afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })))

  it("with no JWT key and no ADMIN_API_KEY, generates an admin key once (0600) into its file, never prints or logs it, and logs where it is", async () => {
    const dataDir = join(freshDir(), "data")
    const printed = vi.spyOn(console, "log").mockImplementation(() => {})
    try {
      const logs: Array<string> = []
      const first = await startTestServer(MemoryStore.layer, { authLayer: configured({ DATA_DIR: dataDir }), logs })
      const file = join(dataDir, "admin-api-key")
      const key = readFileSync(file, "utf8").trim()
      assert.strictEqual(statSync(file).mode & 0o777, 0o600)
      assert.isAtLeast(key.length, 40)
      assert.strictEqual(printed.mock.calls.length, 0, "nothing printed")
      assert.notInclude(logs.join("\n"), key)
      const told = logs.map((line) => JSON.parse(line)).find((line) => line.adminKeyFile !== undefined)
      assert.strictEqual(told?.adminKeyFile, file)
      assert.include(told?.message, "generated an admin API key")
      const client = clientFor(first.baseUrl)
      expectErrorShape(await client.anonymous.get("/api/admin/supply"), 401, "MISSING_CREDENTIALS")
      assert.strictEqual((await call(first.baseUrl, "GET", "/api/admin/supply", { adminKey: key })).status, 200)
      await first.close()

      logs.length = 0
      const second = await startTestServer(MemoryStore.layer, { authLayer: configured({ DATA_DIR: dataDir }), logs })
      assert.strictEqual(readFileSync(file, "utf8").trim(), key)
      assert.strictEqual(printed.mock.calls.length, 0, "nothing printed")
      assert.notInclude(logs.join("\n"), key)
      assert.isTrue(logs.some((line) => line.includes("loaded from its file")))
      assert.strictEqual((await call(second.baseUrl, "GET", "/api/admin/supply", { adminKey: key })).status, 200)
      await second.close()
    } finally {
      printed.mockRestore()
    }
  })

  it("the legacy JWT_SECRET is accepted, and then no admin key is generated", async () => {
    const dataDir = freshDir()
    const server = await startTestServer(MemoryStore.layer, {
      authLayer: configured({ DATA_DIR: dataDir, JWT_SECRET: "legacy-secret-of-a-sufficient-length-000000" })
    })
    try {
      const token = await hsToken({ roles: ["admin"] }, { subject: "ops", secret: "legacy-secret-of-a-sufficient-length-000000" })
      assert.strictEqual((await call(server.baseUrl, "GET", "/api/admin/supply", { token })).status, 200)
      assert.isFalse(existsSync(join(dataDir, "admin-api-key")))
    } finally {
      await server.close()
    }
  })

  it("AUTH_DISABLED=true lets every request in as an admin and warns at every start", async () => {
    for (let start = 0; start < 2; start++) {
      const logs: Array<string> = []
      const server = await startTestServer(MemoryStore.layer, { authLayer: configured({ DATA_DIR: freshDir(), AUTH_DISABLED: "true" }), logs })
      try {
        assert.strictEqual((await call(server.baseUrl, "GET", "/api/admin/supply")).status, 200)
        assert.isTrue(logs.some((line) => line.includes("AUTH_DISABLED=true")))
      } finally {
        await server.close()
      }
    }
  })
})

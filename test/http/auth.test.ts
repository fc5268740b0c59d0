import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { ConfigProvider, Effect, Layer } from "effect"
import { assert, describe, it, layer } from "@effect/vitest"
import { vi } from "vitest"
import { AuthSettings } from "../../src/api/http/auth/AuthSettings.ts"
import { MemoryStore } from "../../src/store/memory/MemoryStore.ts"
import { anonymous, hsToken, playerToken, withToken } from "./support/client.ts"
import { makeSigningKey, startJwksServer } from "./support/jwks.ts"
import { executeCommand, uniqueId } from "./support/seed.ts"
import { ADMIN_KEY, TestHttpServer } from "./support/testServer.ts"
import { expectErrorShape } from "./suites/errorResponses.ts"

const configured = (env: Record<string, string>) =>
  AuthSettings.layer.pipe(Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown(env))))

/** Signing and key generation are asynchronous in jose. */
const sign = (...args: Parameters<typeof hsToken>) => Effect.promise(() => hsToken(...args))
const signAsPlayer = (accountId: string) => Effect.promise(() => playerToken(accountId))

// Every server below is the real one on a free port; live services (real sockets, real time).
const alice = uniqueId("alice")
const serverWithAlice = Layer.effectDiscard(executeCommand({ op: "EnsureAccount", accountId: alice, initialBalance: 100 })).pipe(
  Layer.provideMerge(TestHttpServer.layer(MemoryStore.layer))
)

layer(serverWithAlice, { excludeTestServices: true })("auth matrix (HS256 secret + admin key)", (it) => {
  const get = (path: string, headers: Record<string, string>) => anonymous.get(path, { headers })
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

  it.effect("no credentials: 401 MISSING_CREDENTIALS on player and admin routes", () => Effect.gen(function*() {
    const reply = yield* get(`/api/accounts/${alice}/balance`, {})
    expectErrorShape(reply, 401, "MISSING_CREDENTIALS")
    assert.match(reply.headers.get("www-authenticate") ?? "", /^Bearer /)
    expectErrorShape(yield* get("/api/admin/supply", {}), 401, "MISSING_CREDENTIALS")
  }))

  it.effect("a token signed with another secret: 401 INVALID_TOKEN", () => Effect.gen(function*() {
    const forged = yield* sign({ roles: ["admin"] }, { subject: alice, secret: "some-other-secret-of-enough-length-000000" })
    expectErrorShape(yield* get(`/api/accounts/${alice}/balance`, bearer(forged)), 401, "INVALID_TOKEN")
  }))

  it.effect("a malformed token, an unsigned (alg none) token and a Basic header: 401", () => Effect.gen(function*() {
    const none = `${Buffer.from(JSON.stringify({ alg: "none" })).toString("base64url")}.${Buffer.from(JSON.stringify({ sub: alice, roles: ["admin"] })).toString("base64url")}.`
    expectErrorShape(yield* get(`/api/accounts/${alice}/balance`, bearer("not-a-jwt")), 401, "INVALID_TOKEN")
    expectErrorShape(yield* get(`/api/accounts/${alice}/balance`, bearer(none)), 401, "INVALID_TOKEN")
    expectErrorShape(yield* get(`/api/accounts/${alice}/balance`, { authorization: "Basic YWRtaW46YWRtaW4=" }), 401, "INVALID_CREDENTIALS")
  }))

  it.effect("an expired token: 401 TOKEN_EXPIRED", () => Effect.gen(function*() {
    const expired = yield* sign({}, { subject: alice, expiresIn: Math.floor(Date.now() / 1000) - 60 })
    expectErrorShape(yield* get(`/api/accounts/${alice}/balance`, bearer(expired)), 401, "TOKEN_EXPIRED")
  }))

  it.effect("a token without sub: 401 INVALID_TOKEN", () => Effect.gen(function*() {
    expectErrorShape(yield* get(`/api/accounts/${alice}/balance`, bearer(yield* sign({}))), 401, "INVALID_TOKEN")
  }))

  it.effect("another player's token: 403 FORBIDDEN on every account route", () => Effect.gen(function*() {
    const mallory = bearer(yield* signAsPlayer("mallory"))
    for (const path of ["balance", "transactions", "ledger", "reservations"]) {
      expectErrorShape(yield* get(`/api/accounts/${alice}/${path}`, mallory), 403, "FORBIDDEN")
    }
  }))

  it.effect("a player on admin routes, or moving chips on their own account: 403 ADMIN_REQUIRED", () => Effect.gen(function*() {
    const own = yield* signAsPlayer(alice)
    expectErrorShape(yield* get("/api/admin/accounts", bearer(own)), 403, "ADMIN_REQUIRED")
    const deposit = yield* withToken(own).post(`/api/accounts/${alice}/deposit`, {
      body: { amount: 1_000_000, source: "ADMIN" },
      headers: { "idempotency-key": uniqueId("k") }
    })
    expectErrorShape(deposit, 403, "ADMIN_REQUIRED")
    assert.strictEqual((yield* get(`/api/accounts/${alice}/balance`, bearer(own))).body.balance, 100)
  }))

  it.effect("the player's own token reads their account", () => Effect.gen(function*() {
    const reply = yield* get(`/api/accounts/${alice}/balance`, bearer(yield* signAsPlayer(alice)))
    assert.deepStrictEqual([reply.status, reply.body.accountId], [200, alice])
  }))

  it.effect("X-Admin-Key: the right key is an admin, a wrong one is 401 INVALID_ADMIN_KEY", () => Effect.gen(function*() {
    assert.strictEqual((yield* get("/api/admin/supply", { "x-admin-key": ADMIN_KEY })).status, 200)
    assert.strictEqual((yield* get(`/api/accounts/${alice}/balance`, { "x-admin-key": ADMIN_KEY })).status, 200)
    expectErrorShape(yield* get("/api/admin/supply", { "x-admin-key": `${ADMIN_KEY}x` }), 401, "INVALID_ADMIN_KEY")
  }))

  it.effect("a JWT with the admin role (roles array or role string) is an admin everywhere", () => Effect.gen(function*() {
    for (const claims of [{ roles: ["player", "admin"] }, { role: "admin" }]) {
      const token = yield* sign(claims, { subject: "ops" })
      assert.strictEqual((yield* get("/api/admin/supply", bearer(token))).status, 200)
      assert.strictEqual((yield* get(`/api/accounts/${alice}/ledger`, bearer(token))).status, 200)
    }
    expectErrorShape(yield* get("/api/admin/supply", bearer(yield* sign({ roles: ["administrator"] }, { subject: "x" }))), 403, "ADMIN_REQUIRED")
  }))

  it.effect("health, readiness and the OpenAPI document need no credentials", () => Effect.gen(function*() {
    for (const path of ["/api/health", "/api/ready", "/api/openapi.json"]) assert.strictEqual((yield* get(path, {})).status, 200)
  }))
})

const ISSUER_SECRET = "issuer-test-secret-of-sufficient-length-0000"
layer(
  TestHttpServer.layer(MemoryStore.layer, { auth: { hs256Secret: ISSUER_SECRET, issuer: "https://auth.poker.test", audience: ["balance"] } }),
  { excludeTestServices: true }
)("issuer and audience checks", (it) => {
  it.effect("accepts the configured iss and aud, refuses others", () => Effect.gen(function*() {
    const token = (claims: Record<string, unknown>) => sign({ roles: ["admin"], ...claims }, { subject: "ops", secret: ISSUER_SECRET })
    const supply = (t: string) => withToken(t).get("/api/admin/supply")
    assert.strictEqual((yield* supply(yield* token({ iss: "https://auth.poker.test", aud: "balance" }))).status, 200)
    expectErrorShape(yield* supply(yield* token({ iss: "https://evil.test", aud: "balance" })), 401, "INVALID_TOKEN")
    expectErrorShape(yield* supply(yield* token({ iss: "https://auth.poker.test", aud: "lobby" })), 401, "INVALID_TOKEN")
    expectErrorShape(yield* supply(yield* token({ aud: "balance" })), 401, "INVALID_TOKEN")
  }))
})

// The tests below configure each server from something they make first (a JWKS endpoint, a
// data dir), so each builds its own server with Effect.provide; it.live for real sockets and time.
const supply = (token: string) => withToken(token).get("/api/admin/supply")

describe("JWKS (RS256/ES256) with key rotation", () => {
  it.live("follows a key rotation served by the JWKS endpoint", () => Effect.gen(function*() {
    const keyA = yield* Effect.promise(() => makeSigningKey("key-a", "RS256"))
    const keyB = yield* Effect.promise(() => makeSigningKey("key-b", "ES256"))
    const jwks = yield* Effect.acquireRelease(Effect.promise(() => startJwksServer([keyA])), (j) => Effect.promise(j.close))
    yield* Effect.gen(function*() {
      const tokenA = yield* Effect.promise(() => keyA.sign({ roles: ["admin"] }, "ops"))
      assert.strictEqual((yield* supply(tokenA)).status, 200)
      assert.strictEqual((yield* supply(tokenA)).status, 200)
      assert.strictEqual(jwks.fetches(), 1)
      // HS256 is not accepted when no shared secret is configured, even with a valid-looking token.
      expectErrorShape(yield* supply(yield* sign({ roles: ["admin"] }, { subject: "ops" })), 401, "INVALID_TOKEN")

      jwks.serve([keyB])
      const tokenB = yield* Effect.promise(() => keyB.sign({ roles: ["admin"] }, "ops"))
      assert.strictEqual((yield* supply(tokenB)).status, 200)
      assert.strictEqual(jwks.fetches(), 2)
      expectErrorShape(yield* supply(tokenA), 401, "INVALID_TOKEN")
    }).pipe(Effect.provide(TestHttpServer.layer(MemoryStore.layer, { auth: { jwksUrl: jwks.url, jwksCooldownMs: 0 } })))
  }))

  it.live("answers 503 AUTH_UNAVAILABLE with Retry-After when the JWKS cannot be fetched", () => Effect.gen(function*() {
    const key = yield* Effect.promise(() => makeSigningKey("key-c", "RS256"))
    const jwks = yield* Effect.promise(() => startJwksServer([key]))
    const url = jwks.url
    yield* Effect.promise(jwks.close)
    yield* Effect.gen(function*() {
      const reply = yield* supply(yield* Effect.promise(() => key.sign({ roles: ["admin"] }, "ops")))
      expectErrorShape(reply, 503, "AUTH_UNAVAILABLE")
      assert.strictEqual(reply.headers.get("retry-after"), "1")
    }).pipe(Effect.provide(TestHttpServer.layer(MemoryStore.layer, { auth: { jwksUrl: url } })))
  }))
})

describe("secure by default", () => {
  /** A temporary directory, removed when the test ends. */
  const freshDir = Effect.acquireRelease(
    Effect.sync(() => mkdtempSync(join(tmpdir(), "balance-http-auth-"))),
    (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
  )

  it.live("with no JWT key and no ADMIN_API_KEY, generates an admin key once (0600) into its file, never prints or logs it, and logs where it is", () => Effect.gen(function*() {
    const dataDir = join(yield* freshDir, "data")
    const printed = yield* Effect.acquireRelease(
      Effect.sync(() => vi.spyOn(console, "log").mockImplementation(() => {})),
      (spy) => Effect.sync(() => spy.mockRestore())
    )
    const logs: Array<string> = []
    const file = join(dataDir, "admin-api-key")
    const key = yield* Effect.gen(function*() {
      const key = readFileSync(file, "utf8").trim()
      assert.strictEqual(statSync(file).mode & 0o777, 0o600)
      assert.isAtLeast(key.length, 40)
      assert.strictEqual(printed.mock.calls.length, 0, "nothing printed")
      assert.notInclude(logs.join("\n"), key)
      const told = logs.map((line) => JSON.parse(line)).find((line) => line.adminKeyFile !== undefined)
      assert.strictEqual(told?.adminKeyFile, file)
      assert.include(told?.message, "generated an admin API key")
      expectErrorShape(yield* anonymous.get("/api/admin/supply"), 401, "MISSING_CREDENTIALS")
      assert.strictEqual((yield* anonymous.get("/api/admin/supply", { adminKey: key })).status, 200)
      return key
    }).pipe(Effect.provide(TestHttpServer.layer(MemoryStore.layer, { authLayer: configured({ DATA_DIR: dataDir }), logs })))

    logs.length = 0
    yield* Effect.gen(function*() {
      assert.strictEqual(readFileSync(file, "utf8").trim(), key)
      assert.strictEqual(printed.mock.calls.length, 0, "nothing printed")
      assert.notInclude(logs.join("\n"), key)
      assert.isTrue(logs.some((line) => line.includes("loaded from its file")))
      assert.strictEqual((yield* anonymous.get("/api/admin/supply", { adminKey: key })).status, 200)
    }).pipe(Effect.provide(TestHttpServer.layer(MemoryStore.layer, { authLayer: configured({ DATA_DIR: dataDir }), logs })))
  }))

  it.live("the legacy JWT_SECRET is accepted, and then no admin key is generated", () => Effect.gen(function*() {
    const dataDir = yield* freshDir
    yield* Effect.gen(function*() {
      const token = yield* sign({ roles: ["admin"] }, { subject: "ops", secret: "legacy-secret-of-a-sufficient-length-000000" })
      assert.strictEqual((yield* supply(token)).status, 200)
      assert.isFalse(existsSync(join(dataDir, "admin-api-key")))
    }).pipe(Effect.provide(TestHttpServer.layer(MemoryStore.layer, {
      authLayer: configured({ DATA_DIR: dataDir, JWT_SECRET: "legacy-secret-of-a-sufficient-length-000000" })
    })))
  }))

  it.live("AUTH_DISABLED=true lets every request in as an admin and warns at every start", () => Effect.gen(function*() {
    for (let start = 0; start < 2; start++) {
      const logs: Array<string> = []
      const authLayer = configured({ DATA_DIR: yield* freshDir, AUTH_DISABLED: "true" })
      yield* Effect.gen(function*() {
        assert.strictEqual((yield* anonymous.get("/api/admin/supply")).status, 200)
        assert.isTrue(logs.some((line) => line.includes("AUTH_DISABLED=true")))
      }).pipe(Effect.provide(TestHttpServer.layer(MemoryStore.layer, { authLayer, logs })))
    }
  }))
})

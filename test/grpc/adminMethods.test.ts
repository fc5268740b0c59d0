import { assert, describe, it, layer } from "@effect/vitest"
import * as grpc from "@grpc/grpc-js"
import { Cause, ConfigProvider, Effect, Exit, Layer, Logger, Redacted, References, Scope } from "effect"
import { GrpcServerAddress, GrpcServerLayer } from "../../src/api/grpc/GrpcServer.ts"
import { isLoopback } from "../../src/api/grpc/grpcExposure.ts"
import { AuthSettings, authSettingsWith } from "../../src/api/http/auth/AuthSettings.ts"
import { makeJsonLogger } from "../../src/observability/Logging.ts"
import { MemoryStore } from "../../src/store/memory/MemoryStore.ts"
import { freePort } from "../../src/childProcess/serverChild.ts"
import { hsToken } from "../http/support/client.ts"
import { ledgerOn } from "../support/ledgerLayers.ts"
import { type Client, makeClient, type Message } from "./support/balanceClient.ts"
import { grpcServerOnly, TEST_ADMIN_KEY } from "./support/grpcTestServer.ts"

const GAME_TOKEN = "game-token-for-admin-tests"
const HS_SECRET = "grpc-admin-tests-hs256-secret-long-enough-0123456789"

/** A client that sends only what each call is given: the game's client, or an operator's with explicit headers. */
const bareClient = Effect.acquireRelease(
  Effect.gen(function*() {
    const { port } = yield* GrpcServerAddress
    return makeClient(`127.0.0.1:${port}`)
  }),
  (c) => Effect.sync(c.close)
)

const statusOf = (client: Client, method: string, request: Message, headers: Readonly<Record<string, string>> = {}) =>
  Effect.flip(client.call(method, request, headers)).pipe(Effect.map((e: grpc.ServiceError) => ({ code: e.code, details: e.details })))

const balanceOf = (client: Client, account: string) =>
  Effect.map(client.call("GetBalance", { account_id: account }, { "x-admin-key": TEST_ADMIN_KEY }), (r) => r.balance as string)

const deposit = (account: string, key: string) => ({ account_id: account, amount: "250", idempotency_key: key, source: "PROMO" })
const withdraw = (account: string, key: string) => ({ account_id: account, amount: "10", idempotency_key: key, reason: "test" })

layer(
  grpcServerOnly(MemoryStore.layer, { server: { admin: authSettingsWith({ adminApiKey: TEST_ADMIN_KEY, hs256Secret: HS_SECRET }) } }),
  { excludeTestServices: true }
)("admin methods over gRPC (no game token: gRPC on loopback)", (it) => {
  it.effect("Deposit, Withdraw and EnsureAccount with an initial balance need admin credentials; refused calls change nothing", () =>
    Effect.gen(function*() {
      const client = yield* bareClient
      assert.strictEqual((yield* client.call("EnsureAccount", { account_id: "adm-a" })).created, true, "no initial balance: the game's call")
      assert.strictEqual((yield* client.call("EnsureAccount", { account_id: "adm-z", initial_balance: "0" })).created, true)

      for (const [method, request] of [
        ["Deposit", deposit("adm-a", "adm-d1")],
        ["Withdraw", withdraw("adm-a", "adm-w1")],
        ["EnsureAccount", { account_id: "adm-b", initial_balance: "500" }]
      ] as const) {
        const refused = yield* statusOf(client, method, request)
        assert.strictEqual(refused.code, grpc.status.UNAUTHENTICATED, method)
        assert.include(refused.details, "x-admin-key", method)
        const wrongKey = yield* statusOf(client, method, request, { "x-admin-key": "not-the-key" })
        assert.strictEqual(wrongKey.code, grpc.status.UNAUTHENTICATED, method)
        assert.include(wrongKey.details, "x-admin-key is not valid")
      }
      assert.strictEqual(yield* balanceOf(client, "adm-a"), "0")
      assert.strictEqual(yield* balanceOf(client, "adm-b"), "0")

      const admin = { "x-admin-key": TEST_ADMIN_KEY }
      const deposited = yield* client.call("Deposit", deposit("adm-a", "adm-d1"), admin)
      assert.isTrue(deposited.ok)
      assert.strictEqual(deposited.balance, "250")
      assert.isTrue((yield* client.call("Withdraw", withdraw("adm-a", "adm-w1"), admin)).ok)
      const minted = yield* client.call("EnsureAccount", { account_id: "adm-b", initial_balance: "500" }, admin)
      assert.strictEqual(minted.balance, "500")
      assert.strictEqual(yield* balanceOf(client, "adm-a"), "240")
    }))

  it.effect("an admin JWT is admitted; a player's JWT (PERMISSION_DENIED) and a forged one (UNAUTHENTICATED) are not", () =>
    Effect.gen(function*() {
      const client = yield* bareClient
      const bearer = (token: string) => ({ authorization: `Bearer ${token}` })
      const admin = yield* Effect.promise(() => hsToken({ roles: ["admin"] }, { subject: "ops-1", secret: HS_SECRET }))
      const player = yield* Effect.promise(() => hsToken({}, { subject: "adm-c", secret: HS_SECRET }))
      const forged = yield* Effect.promise(() => hsToken({ roles: ["admin"] }, { subject: "ops-1", secret: `${HS_SECRET}-other` }))
      assert.strictEqual((yield* client.call("EnsureAccount", { account_id: "adm-c", initial_balance: "100" }, bearer(admin))).balance, "100")
      const denied = yield* statusOf(client, "Deposit", deposit("adm-c", "adm-d2"), bearer(player))
      assert.strictEqual(denied.code, grpc.status.PERMISSION_DENIED)
      assert.strictEqual((yield* statusOf(client, "Deposit", deposit("adm-c", "adm-d2"), bearer(forged))).code, grpc.status.UNAUTHENTICATED)
      assert.strictEqual(yield* balanceOf(client, "adm-c"), "100")
    }))
})

layer(
  grpcServerOnly(MemoryStore.layer, { server: { authToken: Redacted.make(GAME_TOKEN) } }),
  { excludeTestServices: true }
)("admin methods over gRPC with GRPC_AUTH_TOKEN", (it) => {
  it.effect("the game's token does not allow Deposit (PERMISSION_DENIED); the admin key also opens the game's calls", () =>
    Effect.gen(function*() {
      const client = yield* bareClient
      const game = { authorization: `Bearer ${GAME_TOKEN}` }
      assert.strictEqual((yield* client.call("EnsureAccount", { account_id: "tok-a" }, game)).created, true)
      const denied = yield* statusOf(client, "Deposit", deposit("tok-a", "tok-d1"), game)
      assert.strictEqual(denied.code, grpc.status.PERMISSION_DENIED)
      assert.include(denied.details, "the game's token does not allow it")
      assert.strictEqual((yield* statusOf(client, "GetBalance", { account_id: "tok-a" })).code, grpc.status.UNAUTHENTICATED)
      assert.strictEqual((yield* client.call("GetBalance", { account_id: "tok-a" }, { "x-admin-key": TEST_ADMIN_KEY })).balance, "0")
      assert.isTrue((yield* client.call("Deposit", deposit("tok-a", "tok-d1"), { ...game, "x-admin-key": TEST_ADMIN_KEY })).ok)
    }))
})

layer(
  grpcServerOnly(MemoryStore.layer, { server: { admin: authSettingsWith({ disabled: true }) } }),
  { excludeTestServices: true }
)("AUTH_DISABLED over gRPC", (it) => {
  it.effect("every call is an admin's (local experiments only)", () =>
    Effect.gen(function*() {
      const client = yield* bareClient
      assert.strictEqual((yield* client.call("EnsureAccount", { account_id: "off-a", initial_balance: "7" })).balance, "7")
      assert.isTrue((yield* client.call("Deposit", deposit("off-a", "off-d1"))).ok)
    }))
})

/** GrpcServerLayer built from `env` (AuthSettings from the same env), its log lines, or the failure. */
const startFromEnv = (env: Record<string, string>) =>
  Effect.gen(function*() {
    const lines: Array<Record<string, unknown>> = []
    const logging = Layer.mergeAll(
      Logger.layer([makeJsonLogger((line) => void lines.push(JSON.parse(line) as Record<string, unknown>))]),
      Layer.succeed(References.MinimumLogLevel, "Info")
    )
    const port = yield* Effect.promise(() => freePort())
    const config = ConfigProvider.layer(ConfigProvider.fromUnknown({ GRPC_PORT: String(port), ADMIN_API_KEY: TEST_ADMIN_KEY, ...env }))
    const scope = yield* Scope.make()
    const exit = yield* Effect.exit(Layer.buildWithScope(
      GrpcServerLayer.pipe(Layer.provide(ledgerOn(MemoryStore.layer)), Layer.provide(AuthSettings.layer), Layer.provide(config), Layer.provide(logging)),
      scope
    ))
    const listening = lines.find((l) => l.message === "grpc listening")
    return { exit, lines, listening, close: Scope.close(scope, Exit.void) }
  })

describe("where gRPC listens, and the refusal to expose the game's calls without a credential", () => {
  it.live("by default (no HOST, no GRPC_HOST) gRPC listens on loopback only, and the game's calls need no token there", () =>
    Effect.gen(function*() {
      const started = yield* startFromEnv({})
      assert.isTrue(Exit.isSuccess(started.exit))
      assert.strictEqual(started.listening?.host, "127.0.0.1")
      assert.strictEqual(started.listening?.auth, "loopback-only")
      const client = makeClient(`127.0.0.1:${started.listening?.port}`)
      assert.strictEqual((yield* client.call("GetBalance", { account_id: "env-a" })).balance, "0")
      client.close()
      yield* started.close
    }))

  it.live("HOST or GRPC_HOST beyond loopback without GRPC_AUTH_TOKEN or mutual TLS: the start is refused, naming the variables", () =>
    Effect.gen(function*() {
      for (const env of [{ HOST: "0.0.0.0" }, { GRPC_HOST: "0.0.0.0" }, { HOST: "127.0.0.1", GRPC_HOST: "::" }]) {
        const started = yield* startFromEnv(env)
        assert.isTrue(Exit.isFailure(started.exit), JSON.stringify(env))
        const message = Exit.isFailure(started.exit) ? Cause.pretty(started.exit.cause) : ""
        for (const variable of ["GRPC_AUTH_TOKEN", "GRPC_TLS_CA", "GRPC_HOST=127.0.0.1", "GRPC_ALLOW_UNAUTHENTICATED=true"]) {
          assert.include(message, variable, JSON.stringify(env))
        }
        assert.isUndefined(started.listening)
        yield* started.close
      }
    }))

  it.live("beyond loopback with GRPC_AUTH_TOKEN: starts, and the game's calls need the token", () =>
    Effect.gen(function*() {
      const started = yield* startFromEnv({ GRPC_HOST: "0.0.0.0", GRPC_AUTH_TOKEN: GAME_TOKEN })
      assert.isTrue(Exit.isSuccess(started.exit))
      assert.strictEqual(started.listening?.auth, "bearer")
      const client = makeClient(`127.0.0.1:${started.listening?.port}`)
      assert.strictEqual((yield* Effect.flip(client.call("GetBalance", { account_id: "env-b" }))).code, grpc.status.UNAUTHENTICATED)
      assert.strictEqual((yield* client.call("GetBalance", { account_id: "env-b" }, { authorization: `Bearer ${GAME_TOKEN}` })).balance, "0")
      client.close()
      yield* started.close
    }))

  it.live("GRPC_ALLOW_UNAUTHENTICATED=true: starts beyond loopback with a warning at every start; Deposit still needs the admin key", () =>
    Effect.gen(function*() {
      for (let start = 0; start < 2; start++) {
        const started = yield* startFromEnv({ HOST: "0.0.0.0", GRPC_ALLOW_UNAUTHENTICATED: "true" })
        assert.isTrue(Exit.isSuccess(started.exit))
        assert.isTrue(started.lines.some((l) => l.level === "WARN" && String(l.message).includes("GRPC_ALLOW_UNAUTHENTICATED=true")))
        assert.strictEqual(started.listening?.host, "0.0.0.0")
        const client = makeClient(`127.0.0.1:${started.listening?.port}`)
        assert.strictEqual((yield* client.call("GetBalance", { account_id: "env-c" })).balance, "0")
        const refused = yield* Effect.flip(client.call("Deposit", deposit("env-c", `env-d${start}`)))
        assert.strictEqual(refused.code, grpc.status.UNAUTHENTICATED)
        client.close()
        yield* started.close
      }
    }))
})

describe("isLoopback", () => {
  it("literal loopback addresses and localhost only", () => {
    for (const host of ["127.0.0.1", "127.1.2.3", "localhost", "::1", "[::1]", "::ffff:127.0.0.1"]) assert.isTrue(isLoopback(host), host)
    for (const host of ["0.0.0.0", "::", "10.0.0.5", "example.com", "128.0.0.1", "127.0.0.1.example.com"]) assert.isFalse(isLoopback(host), host)
  })
})

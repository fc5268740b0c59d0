import { rmSync } from "node:fs"
import { createServer } from "node:net"
import { assert, describe, it, layer } from "@effect/vitest"
import * as grpc from "@grpc/grpc-js"
import { ConfigProvider, Context, Effect, Exit, Layer, Redacted, Scope } from "effect"
import { GrpcServerAddress, GrpcServerLayer, grpcServerLayerWith } from "../../src/api/grpc/GrpcServer.ts"
import { AuthSettings } from "../../src/api/http/auth/AuthSettings.ts"
import { MemoryStore } from "../../src/store/memory/MemoryStore.ts"
import { ledgerOn } from "../support/ledgerLayers.ts"
import { hasOpenssl, makeCertificates } from "../support/tlsCertificates.ts"
import { BalanceClient, makeClient } from "./support/balanceClient.ts"
import { call, eventually, statusOf } from "./support/expectations.ts"
import { grpcServerOn, testServerSettings } from "./support/grpcTestServer.ts"

const TOKEN = "s3cret-token"

layer(grpcServerOn(MemoryStore.layer, { server: { authToken: Redacted.make(TOKEN) } }), { excludeTestServices: true })(
  "GRPC_AUTH_TOKEN set",
  (it) => {
    it.effect("calls without `authorization: Bearer <token>` get UNAUTHENTICATED; with it they pass", () =>
      Effect.gen(function*() {
        for (const headers of [{}, { authorization: "Bearer wrong" }, { authorization: `Basic ${TOKEN}` }, { authorization: TOKEN }, { authorization: `Bearer ${TOKEN}x` }]) {
          const s = yield* statusOf("ReserveForBuyIn", { account_id: "au-a", table_id: "t", amount: "1", idempotency_key: "k" }, headers)
          assert.strictEqual(s.code, grpc.status.UNAUTHENTICATED, JSON.stringify(headers))
          assert.strictEqual((yield* statusOf("GetBalance", { account_id: "au-a" }, headers)).code, grpc.status.UNAUTHENTICATED)
        }
        assert.strictEqual((yield* call("GetBalance", { account_id: "au-a" }, { authorization: `Bearer ${TOKEN}` })).currency, "CHIPS")
        assert.strictEqual((yield* call("GetBalance", { account_id: "au-a" }, { authorization: `bearer ${TOKEN}` })).currency, "CHIPS")
      }))

    it.effect("WatchAccount needs the token too; health stays open for probes", () =>
      Effect.gen(function*() {
        const client = yield* BalanceClient
        const watch = yield* client.stream("balance", "WatchAccount", { account_id: "au-a" })
        yield* eventually("the stream is refused", Effect.sync(() => watch.ended() !== undefined))
        assert.strictEqual(watch.ended()!.code, grpc.status.UNAUTHENTICATED)
        assert.strictEqual((yield* client.health("Check", { service: "" })).status, "SERVING")
      }))
  }
)

const freePort = () =>
  Effect.callback<number>((resume) => {
    const probe = createServer()
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as { port: number }
      probe.close(() => resume(Effect.succeed(port)))
    })
  })

describe("GrpcServerLayer from the environment", () => {
  it.live("binds GRPC_PORT on HOST and enforces GRPC_AUTH_TOKEN", () =>
    Effect.gen(function*() {
      const port = yield* freePort()
      const env = ConfigProvider.layer(
        ConfigProvider.fromUnknown({ GRPC_PORT: String(port), HOST: "127.0.0.1", GRPC_AUTH_TOKEN: TOKEN, ADMIN_API_KEY: "env-admin-key" })
      )
      const scope = yield* Scope.make()
      yield* Layer.buildWithScope(
        GrpcServerLayer.pipe(Layer.provide(ledgerOn(MemoryStore.layer)), Layer.provide(AuthSettings.layer), Layer.provide(env)),
        scope
      )
      const client = makeClient(`127.0.0.1:${port}`)
      const denied = yield* Effect.flip(client.call("GetBalance", { account_id: "env-a" }))
      assert.strictEqual(denied.code, grpc.status.UNAUTHENTICATED)
      assert.strictEqual((yield* client.call("GetBalance", { account_id: "env-a" }, { authorization: `Bearer ${TOKEN}` })).balance, "0")
      client.close()
      yield* Scope.close(scope, Exit.void)
    }))
})

const startTls = (tls: { cert?: string; key?: string; ca?: string }) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const settings = testServerSettings({ tls: { cert: tls.cert, key: tls.key, ca: tls.ca } })
    const context = yield* Layer.buildWithScope(grpcServerLayerWith(settings).pipe(Layer.provide(ledgerOn(MemoryStore.layer))), scope).pipe(
      Effect.onError(() => Scope.close(scope, Exit.void))
    )
    return { scope, port: Context.get(context, GrpcServerAddress).port }
  })

const balanceOver = (port: number, credentials: grpc.ChannelCredentials) =>
  Effect.gen(function*() {
    // Names the certificate's DNS SAN: TLS forbids an IP address as server name.
    const client = makeClient(`127.0.0.1:${port}`, credentials, { "grpc.ssl_target_name_override": "localhost" })
    return yield* client.call("GetBalance", { account_id: "tls-a" }).pipe(Effect.ensuring(Effect.sync(client.close)))
  })

describe.skipIf(!hasOpenssl)("gRPC over TLS", () => {
  it.live("GRPC_TLS_CERT + KEY: TLS clients trusting the CA get in, plaintext clients do not", () =>
    Effect.gen(function*() {
      const certs = makeCertificates()
      const { scope, port } = yield* startTls({ cert: certs.f("server.pem"), key: certs.f("server.key") })
      assert.strictEqual((yield* balanceOver(port, grpc.credentials.createSsl(certs.read("ca.pem")))).currency, "CHIPS")
      const plain = yield* Effect.flip(balanceOver(port, grpc.credentials.createInsecure()))
      assert.strictEqual(plain.code, grpc.status.UNAVAILABLE)
      yield* Scope.close(scope, Exit.void)
      rmSync(certs.dir, { recursive: true, force: true })
    }))

  it.live("GRPC_TLS_CA as well: only clients with a certificate from that CA get in", () =>
    Effect.gen(function*() {
      const certs = makeCertificates()
      const { scope, port } = yield* startTls({ cert: certs.f("server.pem"), key: certs.f("server.key"), ca: certs.f("ca.pem") })
      const withCert = grpc.credentials.createSsl(certs.read("ca.pem"), certs.read("client.key"), certs.read("client.pem"))
      assert.strictEqual((yield* balanceOver(port, withCert)).currency, "CHIPS")
      const without = yield* Effect.flip(balanceOver(port, grpc.credentials.createSsl(certs.read("ca.pem"))))
      assert.strictEqual(without.code, grpc.status.UNAVAILABLE)
      yield* Scope.close(scope, Exit.void)
      rmSync(certs.dir, { recursive: true, force: true })
    }))

  it.live("a half or unreadable TLS configuration fails the start, naming the variable", () =>
    Effect.gen(function*() {
      const half = yield* Effect.flip(startTls({ cert: "/nonexistent/cert.pem" }))
      assert.include(half.message, "GRPC_TLS_KEY")
      const missing = yield* Effect.flip(startTls({ cert: "/nonexistent/cert.pem", key: "/nonexistent/key.pem" }))
      assert.include(missing.message, "GRPC_TLS_CERT=/nonexistent/cert.pem")
    }))
})

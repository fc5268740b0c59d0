import { assert, describe, it } from "@effect/vitest"
import { status } from "@grpc/grpc-js"
import { Context, Effect, Exit, Layer, Logger, References, Scope } from "effect"
import { GrpcServerAddress } from "../../src/api/grpc/GrpcServer.ts"
import { MemoryStore } from "../../src/store/memory/MemoryStore.ts"
import { makeClient } from "./support/balanceClient.ts"
import { eventually } from "./support/expectations.ts"
import { grpcServerOnly } from "./support/grpcTestServer.ts"

/** Debug log lines of the server, so a test can see a fiber finish instead of inferring it from silence. */
const captureLogs = () => {
  const lines: Array<string> = []
  const layer = Layer.mergeAll(
    Logger.layer([Logger.make(({ message }) => void lines.push((Array.isArray(message) ? message : [message]).join(" ")))]),
    Layer.succeed(References.MinimumLogLevel, "Debug")
  )
  return { lines, layer }
}

/** Starts the server in a scope the test closes itself. */
const startServer = (logs = captureLogs(), port = 0) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const context = yield* Layer.buildWithScope(grpcServerOnly(MemoryStore.layer, { server: { port } }).pipe(Layer.provide(logs.layer)), scope)
    const address = Context.get(context, GrpcServerAddress)
    const client = makeClient(`127.0.0.1:${address.port}`)
    yield* Scope.addFinalizer(scope, Effect.sync(client.close))
    return { scope, client, port: address.port, logs }
  })

describe("gRPC server lifecycle", () => {
  it.live("a client cancelling WatchAccount ends the server's fiber for it", () =>
    Effect.gen(function*() {
      const { scope, client, logs } = yield* startServer()
      const watch = yield* client.stream("balance", "WatchAccount", { account_id: "lc-a" }).pipe(Scope.provide(scope))
      yield* eventually("the watch is live", Effect.sync(() => watch.headers() !== undefined))
      watch.cancel()
      yield* eventually("the server closed the stream", Effect.sync(() => logs.lines.some((l) => l === "grpc stream closed CANCELLED")))
      yield* Scope.close(scope, Exit.void)
    }))

  it.live("closing the layer ends open streams with UNAVAILABLE, then stops accepting calls", () =>
    Effect.gen(function*() {
      const { scope, client, logs, port } = yield* startServer()
      // Their own scope: the server's must close while they are still open.
      const streams = yield* Scope.make()
      const watch = yield* client.stream("balance", "WatchAccount", { account_id: "lc-b" }).pipe(Scope.provide(streams))
      const health = yield* client.stream("health", "Watch", { service: "" }).pipe(Scope.provide(streams))
      yield* eventually("both streams are live", Effect.sync(() => watch.headers() !== undefined && health.received.length > 0))
      assert.deepInclude(yield* client.call("GetBalance", { account_id: "lc-b" }), { balance: "0" })
      yield* Scope.close(scope, Exit.void)
      yield* eventually("both streams ended", Effect.sync(() => watch.ended() !== undefined && health.ended() !== undefined))
      assert.strictEqual(watch.ended()!.code, status.UNAVAILABLE)
      assert.strictEqual(health.ended()!.code, status.UNAVAILABLE)
      assert.include(logs.lines, "grpc stopped")
      const late = makeClient(`127.0.0.1:${port}`, undefined, { "grpc.initial_reconnect_backoff_ms": 50 })
      const after = yield* Effect.flip(late.call("GetBalance", { account_id: "lc-b" }).pipe(Effect.ensuring(Effect.sync(late.close))))
      assert.strictEqual(after.code, status.UNAVAILABLE)
      yield* Scope.close(streams, Exit.void)
    }))

  it.live("a port already in use fails the layer with PortUnavailable, naming GRPC_PORT and the port", () =>
    Effect.gen(function*() {
      const first = yield* startServer()
      const second = yield* Effect.flip(startServer(captureLogs(), first.port))
      assert.strictEqual((second as { _tag?: string })._tag, "PortUnavailable")
      assert.include(String((second as Error).message), `GRPC_PORT ${first.port} is in use`)
      yield* Scope.close(first.scope, Exit.void)
    }))
})

import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { connect } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer } from "effect"
import { LocalRedisServer } from "../../src/store/redis/LocalRedisServer.ts"
import {
  recordOwner,
  RedisServerMissing,
  socketPathFor,
  spawnRedisServer,
  spawnRedisServerOnFreePort,
  stopRedisServer
} from "../../src/store/redis/redisServerProcess.ts"
import { RedisStore } from "../../src/store/redis/RedisStore.ts"
import { Store } from "../../src/store/Store.ts"
import { walletKey, type WalletState } from "../../src/domain/accounts.ts"
import { ensure, eventually } from "./planFixtures.ts"

const accepts = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect({ port, host: "127.0.0.1" })
    socket.once("connect", () => (socket.destroy(), resolve(true)))
    socket.once("error", () => resolve(false))
  })

it.live("LocalRedisServer runs a private redis-server under DATA_DIR for the scope's lifetime", () =>
  Effect.gen(function*() {
    const dataDir = mkdtempSync(join(tmpdir(), "balance-local-"))
    yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dataDir, { recursive: true, force: true })))
    const config = ConfigProvider.layer(ConfigProvider.fromUnknown({ DATA_DIR: dataDir }))
    const port = yield* Effect.gen(function*() {
      const local = yield* LocalRedisServer
      assert.notStrictEqual(local.port, 6379)
      assert.strictEqual(local.dir, join(dataDir, "redis"))
      assert.strictEqual(local.url, `unix://${join(dataDir, "redis", "redis.sock")}`, "the store connects over the Unix socket")
      yield* Store.use((s) => s.ping()).pipe(Effect.provide(RedisStore.layer({ url: local.url })))
      assert.isTrue(yield* Effect.promise(() => accepts(local.port)), "TCP on 127.0.0.1 stays open (redis-cli)")
      assert.isTrue(existsSync(join(dataDir, "redis", "appendonlydir")), "AOF enabled")
      return local.port
    }).pipe(Effect.provide(LocalRedisServer.layer.pipe(Layer.provide(config))))
    assert.isFalse(yield* Effect.promise(() => accepts(port)), "stopped with its scope")
  }))

it.live("a missing redis-server binary fails with install instructions", () =>
  Effect.gen(function*() {
    const dir = mkdtempSync(join(tmpdir(), "balance-missing-"))
    yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dir, { recursive: true, force: true })))
    const error = yield* Effect.flip(Effect.tryPromise(() => spawnRedisServer({ port: 1, dir, binary: "redis-server-not-installed" })))
    assert.instanceOf(error.cause, RedisServerMissing)
    assert.include((error.cause as Error).message, "apt-get install redis-server")
    assert.include((error.cause as Error).message, "REDIS_URL")
  }))

it.live("an orphaned redis-server left on DATA_DIR is stopped before a new one starts", () =>
  Effect.gen(function*() {
    const dataDir = mkdtempSync(join(tmpdir(), "balance-orphan-"))
    const orphan = yield* Effect.promise(() => spawnRedisServerOnFreePort({ dir: join(dataDir, "redis") }))
    recordOwner(orphan)
    yield* Effect.addFinalizer(() =>
      Effect.promise(() => stopRedisServer(orphan, "SIGKILL")).pipe(
        Effect.andThen(Effect.sync(() => rmSync(dataDir, { recursive: true, force: true })))
      ))
    const config = ConfigProvider.layer(ConfigProvider.fromUnknown({ DATA_DIR: dataDir }))
    yield* Effect.gen(function*() {
      const local = yield* LocalRedisServer
      assert.notStrictEqual(local.port, orphan.port)
      assert.isFalse(yield* Effect.promise(() => accepts(orphan.port)), "orphan stopped")
    }).pipe(Effect.provide(LocalRedisServer.layer.pipe(Layer.provide(config))))
  }))

it.live("a DATA_DIR too deep for a socket address falls back to TCP", () =>
  Effect.gen(function*() {
    const dataDir = mkdtempSync(join(tmpdir(), "balance-deep-"))
    yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dataDir, { recursive: true, force: true })))
    const deep = join(dataDir, "d".repeat(60), "e".repeat(60))
    assert.isUndefined(socketPathFor(join(deep, "redis")))
    const config = ConfigProvider.layer(ConfigProvider.fromUnknown({ DATA_DIR: deep }))
    yield* Effect.gen(function*() {
      const local = yield* LocalRedisServer
      assert.strictEqual(local.url, `redis://127.0.0.1:${local.port}`)
      yield* Store.use((s) => s.ping()).pipe(Effect.provide(RedisStore.layer({ url: local.url })))
    }).pipe(Effect.provide(LocalRedisServer.layer.pipe(Layer.provide(config))))
  }))

it.live("a private redis-server killed with -9 is started again on the same port and dir, with every acknowledged write", () =>
  Effect.gen(function*() {
    const dataDir = mkdtempSync(join(tmpdir(), "balance-restart-"))
    yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dataDir, { recursive: true, force: true })))
    const config = ConfigProvider.layer(ConfigProvider.fromUnknown({ DATA_DIR: dataDir }))
    const ownerPid = (dir: string) => (JSON.parse(readFileSync(join(dir, "owner.json"), "utf8")) as { pid: number }).pid
    const port = yield* Effect.gen(function*() {
      const local = yield* LocalRedisServer
      yield* Effect.gen(function*() {
        yield* ensure("restart-a", 7)
        const first = ownerPid(local.dir)
        process.kill(first, "SIGKILL")
        const balance = yield* eventually(
          Store.use((s) => s.load([walletKey("restart-a")])),
          (snapshot) => snapshot.objects.get(walletKey("restart-a")) !== undefined,
          20_000
        )
        assert.strictEqual((balance.objects.get(walletKey("restart-a"))!.value as WalletState).balance, 7)
        assert.notStrictEqual(ownerPid(local.dir), first, "a new redis-server process")
      }).pipe(Effect.provide(RedisStore.layer({ url: local.url, commandTimeoutMs: 500, retryAttempts: 0 })))
      return local.port
    }).pipe(Effect.provide(LocalRedisServer.layer.pipe(Layer.provide(config))))
    assert.isFalse(yield* Effect.promise(() => accepts(port)), "the restarted server stopped with the scope")
  }))

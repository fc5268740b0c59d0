import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer, Result } from "effect"
import { ledgerStore } from "../../src/app/ServiceStore.ts"
import { AppConfig } from "../../src/config.ts"
import {
  describeRedisConnection,
  InvalidRedisSettings,
  parseSentinels,
  redisClientOptions,
  type RedisConnection,
  redisConnectionFrom,
  redisConnectionFromConfig
} from "../../src/store/redis/redisConnectionOptions.ts"
import { Store } from "../../src/store/Store.ts"

const timing = { commandTimeoutMs: 800, connectTimeoutMs: 1000 }
const config = (env: Record<string, string>) => ConfigProvider.layer(ConfigProvider.fromUnknown(env))
const fromEnv = (env: Record<string, string>) => redisConnectionFromConfig.pipe(Effect.provide(config(env)))
const base = { sentinelName: "mymaster", tls: false }

describe("REDIS_SENTINELS parsing", () => {
  it("accepts host:port lists with spaces, names and bracketed IPv6", () => {
    const parsed = parseSentinels(" 10.0.0.1:26379, sentinel-b.internal:26380 ,[::1]:26381,")
    assert.isTrue(Result.isSuccess(parsed))
    if (Result.isSuccess(parsed)) {
      assert.deepStrictEqual(parsed.success, [
        { host: "10.0.0.1", port: 26379 },
        { host: "sentinel-b.internal", port: 26380 },
        { host: "::1", port: 26381 }
      ])
    }
  })

  for (const bad of ["sentinel-a", "sentinel-a:", ":26379", "host:port", "host:0", "host:65536", "a:1,b", "a b:1", " , "]) {
    it(`rejects ${JSON.stringify(bad)} with a message naming REDIS_SENTINELS`, () => {
      const parsed = parseSentinels(bad)
      assert.isTrue(Result.isFailure(parsed))
      if (Result.isFailure(parsed)) {
        assert.instanceOf(parsed.failure, InvalidRedisSettings)
        assert.strictEqual(parsed.failure.variable, "REDIS_SENTINELS")
        assert.match(parsed.failure.message, /^REDIS_SENTINELS: /)
        assert.include(parsed.failure.message, "host:port")
      }
    })
  }

  it.effect("a bad value fails the config read, naming the variable and the entry", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(fromEnv({ REDIS_SENTINELS: "127.0.0.1:26379,oops" }))
      assert.instanceOf(error, InvalidRedisSettings)
      assert.include(error.message, "REDIS_SENTINELS")
      assert.include(error.message, "'oops'")
    }))
})

describe("env -> connection", () => {
  it.effect("nothing set: undefined (main runs its own redis-server)", () =>
    Effect.gen(function*() {
      assert.isUndefined(yield* fromEnv({}))
    }))

  it.effect("REDIS_SENTINELS wins over REDIS_URL and carries name, passwords and TLS", () =>
    Effect.gen(function*() {
      const connection = yield* fromEnv({
        REDIS_URL: "redis://ignored:6379",
        REDIS_SENTINELS: "s1:26379,s2:26380",
        REDIS_SENTINEL_NAME: "chips",
        REDIS_PASSWORD: "data-secret",
        REDIS_SENTINEL_PASSWORD: "sentinel-secret",
        REDIS_TLS: "true"
      })
      assert.deepStrictEqual(connection, {
        _tag: "Sentinel",
        sentinels: [{ host: "s1", port: 26379 }, { host: "s2", port: 26380 }],
        name: "chips",
        password: "data-secret",
        sentinelPassword: "sentinel-secret",
        tls: true,
        tlsCa: undefined
      })
      assert.notInclude(describeRedisConnection(connection!), "secret")
    }))

  it.effect("REDIS_SENTINEL_NAME defaults to mymaster", () =>
    Effect.gen(function*() {
      const connection = yield* fromEnv({ REDIS_SENTINELS: "s1:26379" })
      assert.strictEqual(connection?._tag === "Sentinel" ? connection.name : undefined, "mymaster")
    }))

  it("a URL that is not redis://, rediss:// or unix:///path is rejected naming REDIS_URL", () => {
    for (const url of ["http://cache:6379", "unix://relative/redis.sock", "/var/run/redis.sock", "unix://"]) {
      const result = redisConnectionFrom({ ...base, url })
      assert.isTrue(Result.isFailure(result), url)
      if (Result.isFailure(result)) assert.match(result.failure.message, /^REDIS_URL: .*unix:\/\/\/path/)
    }
  })

  it("unix:///path: a Unix socket, password from REDIS_PASSWORD, no TLS, the same request-path discipline", () => {
    const result = redisConnectionFrom({ ...base, url: "unix:///run/redis/redis.sock", password: "p" })
    assert.isTrue(Result.isSuccess(result))
    const connection = Result.getOrThrow(result)!
    const client = redisClientOptions(connection, timing)
    assert.isUndefined(client.url)
    assert.strictEqual(client.options.path, "/run/redis/redis.sock")
    assert.strictEqual(client.options.password, "p")
    assert.isUndefined(client.options.tls)
    assert.strictEqual(client.options.enableOfflineQueue, false)
    assert.strictEqual(client.options.autoResendUnfulfilledCommands, false)
    assert.strictEqual(describeRedisConnection(connection), "unix:///run/redis/redis.sock")
  })

  it.effect("a negative REDIS_MIN_REPLICAS_ACK is a config error", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        Effect.gen(function*() {
          return yield* AppConfig.redisMinReplicasAck
        }).pipe(Effect.provide(config({ REDIS_MIN_REPLICAS_ACK: "-1" })))
      )
      assert.include(String(error), "REDIS_MIN_REPLICAS_ACK")
    }))

  it.effect("REDIS_MIN_REPLICAS_ACK without REDIS_URL/REDIS_SENTINELS refuses to start (the private redis has no replicas)", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        Effect.gen(function*() {
          yield* Store
        }).pipe(Effect.provide(ledgerStore.pipe(Layer.provide(config({ REDIS_MIN_REPLICAS_ACK: "1", DATA_DIR: "/nonexistent/never-created" })))))
      )
      assert.instanceOf(error, InvalidRedisSettings)
      assert.include(error.message, "REDIS_MIN_REPLICAS_ACK")
    }))
})

describe("connection -> ioredis options", () => {
  const sentinel: RedisConnection = {
    _tag: "Sentinel",
    sentinels: [{ host: "10.0.0.1", port: 26379 }, { host: "10.0.0.2", port: 26379 }],
    name: "mymaster",
    password: "data-secret",
    sentinelPassword: "sentinel-secret"
  }

  it("Sentinel: group, role master, both passwords, request-path discipline", () => {
    const { url, options } = redisClientOptions(sentinel, timing)
    assert.isUndefined(url)
    assert.deepStrictEqual(options.sentinels, [{ host: "10.0.0.1", port: 26379 }, { host: "10.0.0.2", port: 26379 }])
    assert.strictEqual(options.name, "mymaster")
    assert.strictEqual(options.role, "master")
    assert.strictEqual(options.password, "data-secret")
    assert.strictEqual(options.sentinelPassword, "sentinel-secret")
    assert.strictEqual(options.enableOfflineQueue, false)
    assert.strictEqual(options.autoResendUnfulfilledCommands, false)
    assert.strictEqual(options.commandTimeout, 800)
    assert.strictEqual(options.connectTimeout, 1000)
    assert.strictEqual(options.sentinelCommandTimeout, 1000)
    assert.strictEqual(options.failoverDetector, true)
    assert.isUndefined(options.tls)
    assert.notStrictEqual(options.enableTLSForSentinelMode, true)
  })

  it("Sentinel: reconnecting never gives up, to the sentinels or to the primary", () => {
    const { options } = redisClientOptions(sentinel, timing)
    for (const attempt of [1, 2, 10, 100, 10_000]) {
      const toPrimary = options.retryStrategy?.(attempt)
      const toSentinels = options.sentinelRetryStrategy?.(attempt)
      assert.isNumber(toPrimary)
      assert.isNumber(toSentinels)
      assert.isAtMost(toPrimary as number, 1000)
      assert.isAtMost(toSentinels as number, 1000)
    }
  })

  it("READONLY (a demoted primary, also inside a script error) reconnects without resending", () => {
    const { options } = redisClientOptions(sentinel, timing)
    const decide = options.reconnectOnError!
    assert.strictEqual(decide(new Error("READONLY You can't write against a read only replica.")), 1)
    assert.strictEqual(
      decide(new Error("READONLY You can't write against a read only replica. script: 8f2a..., on @user_script:1.")),
      1
    )
    assert.isFalse(decide(new Error("ERR wrong number of arguments")))
    assert.isFalse(decide(new Error("NOSCRIPT No matching script")))
  })

  it("Sentinel + TLS: TLS to the data nodes and to the sentinels, with the CA", () => {
    const { options } = redisClientOptions({ ...sentinel, tls: true, tlsCa: "PEM" }, timing)
    assert.strictEqual(options.enableTLSForSentinelMode, true)
    assert.deepStrictEqual(options.tls, { ca: "PEM" })
    assert.deepStrictEqual(options.sentinelTLS, { ca: "PEM" })
  })

  it("URL: rediss:// means TLS; the URL's password wins, REDIS_PASSWORD fills in when it has none", () => {
    const tls = redisClientOptions({ _tag: "Url", url: "rediss://cache:6380", password: "p" }, timing)
    assert.strictEqual(tls.url, "rediss://cache:6380")
    assert.deepStrictEqual(tls.options.tls, {})
    assert.strictEqual(tls.options.password, "p")
    assert.isUndefined(tls.options.sentinels)

    const inUrl = redisClientOptions({ _tag: "Url", url: "redis://:from-url@cache:6379", password: "p" }, timing)
    assert.isUndefined(inUrl.options.password)
    assert.isUndefined(inUrl.options.tls)

    const forced = redisClientOptions({ _tag: "Url", url: "redis://cache:6379", tls: true }, timing)
    assert.deepStrictEqual(forced.options.tls, {})
    assert.strictEqual(forced.options.enableOfflineQueue, false)
    assert.strictEqual(forced.options.reconnectOnError!(new Error("READONLY x")), 1)
  })

  it("descriptions never show passwords", () => {
    assert.strictEqual(describeRedisConnection({ _tag: "Url", url: "rediss://user:hunter2@cache:6380/2" }), "rediss://cache:6380/2")
    assert.strictEqual(
      describeRedisConnection(sentinel),
      "sentinel master 'mymaster' via 10.0.0.1:26379,10.0.0.2:26379"
    )
  })
})

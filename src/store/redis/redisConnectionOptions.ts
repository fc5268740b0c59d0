import { readFileSync } from "node:fs"
import { Effect, Redacted, Result, Schema } from "effect"
import type { RedisOptions } from "ioredis"
import type { ConnectionOptions } from "node:tls"
import { AppConfig } from "../../config.ts"

/**
 * Where the store's Redis is and how to talk to it: a URL (`redis://`, or
 * `rediss://` for TLS), or a Sentinel group. `redisClientOptions` turns it
 * into ioredis options with the request-path discipline of the store (no
 * offline queue, a deadline per command, nothing resent behind our back,
 * reconnect for ever, reconnect when a demoted primary answers READONLY).
 */
export type RedisConnection = UrlConnection | SentinelConnection

export interface UrlConnection {
  readonly _tag: "Url"
  readonly url: string
  /** Used when the URL carries no password. */
  readonly password?: string | undefined
  /** TLS even for a `redis://` URL (`rediss://` always means TLS). */
  readonly tls?: boolean | undefined
  /** PEM of a private CA for the server certificate. */
  readonly tlsCa?: string | undefined
}

export interface SentinelAddress {
  readonly host: string
  readonly port: number
}

export interface SentinelConnection {
  readonly _tag: "Sentinel"
  readonly sentinels: ReadonlyArray<SentinelAddress>
  /** The master group name (`sentinel monitor <name> ...`). */
  readonly name: string
  /** AUTH of the data nodes (primary and replicas). */
  readonly password?: string | undefined
  /** AUTH of the sentinels. */
  readonly sentinelPassword?: string | undefined
  /** TLS to the data nodes and to the sentinels. */
  readonly tls?: boolean | undefined
  readonly tlsCa?: string | undefined
}

/** A Redis setting that cannot work; the message names the variable. */
export class InvalidRedisSettings extends Schema.TaggedError<InvalidRedisSettings>()("InvalidRedisSettings", {
  variable: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `${this.variable}: ${this.reason}`
  }
}

const HOST = /^[A-Za-z0-9._-]+$|^\[[0-9A-Fa-f:.]+\]$/

/** `host:port,host:port` (IPv6 as `[::1]:26379`); every entry needs an explicit port. */
export const parseSentinels = (raw: string): Result.Result<ReadonlyArray<SentinelAddress>, InvalidRedisSettings> => {
  const invalid = (reason: string) => Result.fail(new InvalidRedisSettings({ variable: "REDIS_SENTINELS", reason }))
  const entries = raw.split(",").map((s) => s.trim()).filter((s) => s !== "")
  if (entries.length === 0) return invalid("expected host:port[,host:port...], got an empty list")
  const sentinels: Array<SentinelAddress> = []
  for (const entry of entries) {
    const colon = entry.lastIndexOf(":")
    const host = colon > 0 ? entry.slice(0, colon) : ""
    const portText = colon > 0 ? entry.slice(colon + 1) : ""
    const port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN
    if (!HOST.test(host) || !(port >= 1 && port <= 65535)) {
      return invalid(`'${entry}' is not host:port (expected host:port[,host:port...], port 1-65535)`)
    }
    sentinels.push({ host: host.startsWith("[") ? host.slice(1, -1) : host, port })
  }
  return Result.succeed(sentinels)
}

/** The raw settings, as config.ts reads them (passwords already unwrapped). */
export interface RedisConnectionSettings {
  readonly url?: string | undefined
  readonly sentinels?: string | undefined
  readonly sentinelName: string
  readonly password?: string | undefined
  readonly sentinelPassword?: string | undefined
  readonly tls: boolean
  readonly tlsCa?: string | undefined
}

/** The socket path of a `unix:///abs/path.sock` REDIS_URL; undefined for anything else. */
const unixSocketPath = (url: string): string | undefined => {
  const match = /^unix:\/\/(\/[^?#]+)$/i.exec(url)
  return match?.[1]
}

/** Sentinel when REDIS_SENTINELS is set, else the URL, else nothing (main then runs a private redis-server). */
export const redisConnectionFrom = (
  settings: RedisConnectionSettings
): Result.Result<RedisConnection | undefined, InvalidRedisSettings> => {
  if (settings.sentinels !== undefined) {
    if (settings.sentinelName.trim() === "") {
      return Result.fail(new InvalidRedisSettings({ variable: "REDIS_SENTINEL_NAME", reason: "must not be empty" }))
    }
    return Result.map(parseSentinels(settings.sentinels), (sentinels): RedisConnection => ({
      _tag: "Sentinel",
      sentinels,
      name: settings.sentinelName,
      password: settings.password,
      sentinelPassword: settings.sentinelPassword,
      tls: settings.tls,
      tlsCa: settings.tlsCa
    }))
  }
  if (settings.url !== undefined) {
    if (!/^rediss?:\/\//i.test(settings.url) && unixSocketPath(settings.url) === undefined) {
      return Result.fail(
        new InvalidRedisSettings({
          variable: "REDIS_URL",
          reason: "expected redis://host:port, rediss://host:port (TLS) or unix:///path/to/redis.sock"
        })
      )
    }
    return Result.succeed({
      _tag: "Url",
      url: settings.url,
      password: settings.password,
      tls: settings.tls,
      tlsCa: settings.tlsCa
    })
  }
  return Result.succeed(undefined)
}

/** REDIS_URL / REDIS_SENTINELS and friends from config; `undefined` when neither is set. */
export const redisConnectionFromConfig = Effect.gen(function*() {
  const tlsCaFile = yield* AppConfig.redisTlsCa
  const tlsCa = tlsCaFile === undefined ? undefined : yield* Effect.try({
    try: () => readFileSync(tlsCaFile, "utf8"),
    catch: (e) =>
      new InvalidRedisSettings({ variable: "REDIS_TLS_CA", reason: `cannot read ${tlsCaFile}: ${e instanceof Error ? e.message : String(e)}` })
  })
  const unwrap = (r: Redacted.Redacted<string> | undefined) => (r === undefined ? undefined : Redacted.value(r))
  return yield* Effect.fromResult(redisConnectionFrom({
    url: yield* AppConfig.redisUrl,
    sentinels: yield* AppConfig.redisSentinels,
    sentinelName: yield* AppConfig.redisSentinelName,
    password: unwrap(yield* AppConfig.redisPassword),
    sentinelPassword: unwrap(yield* AppConfig.redisSentinelPassword),
    tls: yield* AppConfig.redisTls,
    tlsCa
  }))
})

/** For logs: where the store connects, without any password. */
export const describeRedisConnection = (connection: RedisConnection): string => {
  if (connection._tag === "Sentinel") {
    return `sentinel master '${connection.name}' via ${connection.sentinels.map((s) => `${s.host}:${s.port}`).join(",")}` +
      (connection.tls ? " (TLS)" : "")
  }
  if (unixSocketPath(connection.url) !== undefined) return connection.url
  try {
    const u = new URL(connection.url)
    return `${u.protocol}//${u.host}${u.pathname === "/" ? "" : u.pathname}` + (connection.tls && u.protocol === "redis:" ? " (TLS)" : "")
  } catch {
    return "redis (unparsable URL)"
  }
}

/** A demoted primary answers writes with READONLY (a script: "... READONLY You can't write ..."). */
const isReadOnlyError = (error: Error): boolean => /\bREADONLY\b/.test(error.message)

/** Delay before the next reconnect: short at first, then every second, for ever (never gives up). */
const reconnectDelay = (times: number): number => Math.min(50 * times, 1000)

export interface RedisClientTiming {
  /** Deadline of one command (ioredis rejects it with "Command timed out"). */
  readonly commandTimeoutMs: number
  /** Deadline of one TCP/TLS connect and of one question to a sentinel. */
  readonly connectTimeoutMs: number
}

/** ioredis options without `replyMapping` (left at its "legacy" default, which the store reads). */
export type ClientOptions = Omit<RedisOptions, "replyMapping">

/** `new Redis(url, options)` (url undefined: `new Redis(options)`). */
export interface RedisClientOptions {
  readonly url: string | undefined
  readonly options: ClientOptions
}

const tlsOptions = (tlsCa: string | undefined): ConnectionOptions => (tlsCa === undefined ? {} : { ca: tlsCa })

export const redisClientOptions = (connection: RedisConnection, timing: RedisClientTiming): RedisClientOptions => {
  const requestPath: ClientOptions = {
    lazyConnect: true,
    // A command issued while disconnected fails at once (StoreUnavailable, retried by the store)
    // instead of waiting in a queue past its deadline.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    // In-flight commands on a dropped connection fail rather than being resent behind our back.
    autoResendUnfulfilledCommands: false,
    commandTimeout: timing.commandTimeoutMs,
    connectTimeout: timing.connectTimeoutMs,
    retryStrategy: reconnectDelay,
    // A primary demoted by a failover keeps answering, with READONLY: drop the connection so that
    // the next one goes to the current primary (Sentinel mode asks the sentinels again). The
    // failed command is not resent (1, not 2): the store's own retry decides, within its deadline.
    reconnectOnError: (error) => (isReadOnlyError(error) ? 1 : false)
  }
  if (connection._tag === "Url" && unixSocketPath(connection.url) !== undefined) {
    // A local socket: no TLS, and the password (if any) from REDIS_PASSWORD.
    return {
      url: undefined,
      options: {
        ...requestPath,
        path: unixSocketPath(connection.url)!,
        ...(connection.password !== undefined ? { password: connection.password } : {})
      }
    }
  }
  if (connection._tag === "Url") {
    const urlHasPassword = (() => {
      try {
        return new URL(connection.url).password !== ""
      } catch {
        return false
      }
    })()
    const tls = connection.tls === true || /^rediss:/i.test(connection.url)
    return {
      url: connection.url,
      options: {
        ...requestPath,
        ...(connection.password !== undefined && !urlHasPassword ? { password: connection.password } : {}),
        ...(tls ? { tls: tlsOptions(connection.tlsCa) } : {})
      }
    }
  }
  const tls = connection.tls === true
  return {
    url: undefined,
    options: {
      ...requestPath,
      sentinels: connection.sentinels.map((s) => ({ host: s.host, port: s.port })),
      name: connection.name,
      role: "master",
      ...(connection.password !== undefined ? { password: connection.password } : {}),
      ...(connection.sentinelPassword !== undefined ? { sentinelPassword: connection.sentinelPassword } : {}),
      // All sentinels unreachable: try them all again shortly, for ever (the default would too; explicit here).
      sentinelRetryStrategy: reconnectDelay,
      sentinelCommandTimeout: timing.connectTimeoutMs,
      // Subscribe to +switch-master so a failover that leaves the old primary reachable (network
      // split, manual SENTINEL FAILOVER) moves us at once instead of at the first READONLY.
      failoverDetector: true,
      // Learn sentinels added later from the ones we know.
      updateSentinels: true,
      ...(tls
        ? { tls: tlsOptions(connection.tlsCa), enableTLSForSentinelMode: true, sentinelTLS: tlsOptions(connection.tlsCa) }
        : {})
    }
  }
}

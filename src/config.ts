import { Config, Redacted, Schema } from "effect"
import type { LogLevel } from "effect/LogLevel"
import { MAX_RESERVATION_TIMEOUT_MS } from "./domain/rules.ts"

/**
 * Every setting the service reads, by the environment variable that sets it.
 * Names are kept from the deployment of the service this one replaces.
 * Layers read what they need from here; a bad value fails the start with an
 * error that names the variable.
 */

const nonNegativeInt = (name: string) =>
  Config.schema(
    Schema.NumberFromString.check(
      Schema.isInt({ message: `${name} must be an integer` }),
      Schema.isGreaterThanOrEqualTo(0, { message: `${name} must not be negative` })
    ),
    name
  )

const positiveInt = (name: string, max = Number.MAX_SAFE_INTEGER) =>
  Config.schema(
    Schema.NumberFromString.check(
      Schema.isInt({ message: `${name} must be an integer` }),
      Schema.isGreaterThan(0, { message: `${name} must be greater than 0` }),
      Schema.isLessThanOrEqualTo(max, { message: `${name} must be at most ${max}` })
    ),
    name
  )

const optionalString = (name: string) =>
  Config.String(name).pipe(Config.map((s) => (s.trim() === "" ? undefined : s)), Config.withDefault(undefined))

const optionalRedacted = (name: string) =>
  Config.Redacted(name).pipe(
    Config.map((r) => (Redacted.value(r) === "" ? undefined : r)),
    Config.withDefault(undefined)
  )

/** Effect's level names, any case, plus the usual aliases (`warning`, `off`). */
const logLevelNames: Readonly<Record<string, LogLevel>> = {
  all: "All",
  trace: "Trace",
  debug: "Debug",
  info: "Info",
  warn: "Warn",
  warning: "Warn",
  error: "Error",
  fatal: "Fatal",
  none: "None",
  off: "None"
}

const logLevel = (name: string) =>
  Config.schema(
    Schema.String.check(
      Schema.makeFilter((s: string) =>
        Object.hasOwn(logLevelNames, s.trim().toLowerCase()) ||
        `${name} must be one of ${Object.keys(logLevelNames).join(", ")} (any case)`
      )
    ),
    name
  ).pipe(Config.map((s) => logLevelNames[s.trim().toLowerCase()]!))

/**
 * HISTORY_ARCHIVE when it is not set. On when the service runs its own Redis (nobody else trims
 * it) or when DATABASE_URL names the PostgreSQL every instance shares. Off on a shared Redis
 * (REDIS_URL / REDIS_SENTINELS) without DATABASE_URL: each instance would archive into a private
 * PostgreSQL of its own, the archiver's lease moving between them, and Redis would be trimmed of
 * history that only another instance's database holds (its tiered reads and verification would
 * then miss it). An explicit HISTORY_ARCHIVE=on there is one instance's choice (one archive per
 * Redis is enforced at start: src/history/archiveIdentity.ts).
 */
export const historyArchiveDefault = (deployment: {
  readonly sharedRedis: boolean
  readonly sharedDatabase: boolean
}): "on" | "off" => (!deployment.sharedRedis || deployment.sharedDatabase ? "on" : "off")

export const AppConfig = {
  httpPort: Config.Port("HTTP_PORT").pipe(Config.withDefault(3002)),
  grpcPort: Config.Port("GRPC_PORT").pipe(Config.withDefault(50051)),
  metricsPort: Config.Port("METRICS_PORT").pipe(Config.withDefault(9102)),
  /** Bind address of HTTP and metrics (and of gRPC when GRPC_HOST is unset). */
  host: Config.String("HOST").pipe(Config.withDefault("0.0.0.0")),
  /**
   * Bind address of gRPC: GRPC_HOST, else HOST when HOST is set, else 127.0.0.1. The game's
   * calls trust their caller, so gRPC serves other machines only when the operator says so,
   * and then only with a credential for the game (see grpcExposure.ts).
   */
  grpcHost: Config.all([optionalString("GRPC_HOST"), optionalString("HOST")]).pipe(
    Config.map(([grpcHost, host]) => grpcHost ?? host ?? "127.0.0.1")
  ),
  /** Unset: `npm start` runs a private redis-server under DATA_DIR. */
  redisUrl: optionalString("REDIS_URL"),
  redisKeyPrefix: Config.String("REDIS_KEY_PREFIX").pipe(Config.withDefault("balance:")),
  redisCommandTimeoutMs: positiveInt("REDIS_COMMAND_TIMEOUT_MS").pipe(Config.withDefault(1000)),
  /**
   * apply.lua writes nothing once REDIS_COMMAND_TIMEOUT_MS + this has passed since the attempt
   * was sent (by the Redis clock; the offset between the clocks is measured at connect).
   */
  redisDeadlineSlackMs: nonNegativeInt("REDIS_DEADLINE_SLACK_MS").pipe(Config.withDefault(0)),
  /**
   * Approximate cap (XADD MAXLEN ~) of the events stream with HISTORY_ARCHIVE=off (the ledger and
   * transfer lists are never trimmed then, and the transfer lists hold each transfer in full); not
   * applied with the archive on, where the transfer lists reference the stream's events.
   */
  redisEventsMaxLen: positiveInt("REDIS_EVENTS_MAXLEN").pipe(Config.withDefault(100_000)),
  /** Port of the private redis-server that `npm start` runs without REDIS_URL; 0 picks a free one. */
  localRedisPort: nonNegativeInt("LOCAL_REDIS_PORT").pipe(Config.withDefault(0)),
  /**
   * `host:port,host:port`: reach Redis through Sentinel (ioredis asks the sentinels for the
   * primary and again after a failover). When set, REDIS_URL is ignored.
   */
  redisSentinels: optionalString("REDIS_SENTINELS"),
  /** The master group name the sentinels monitor. */
  redisSentinelName: Config.String("REDIS_SENTINEL_NAME").pipe(Config.withDefault("mymaster")),
  /** AUTH password of the Redis data nodes (a password in REDIS_URL takes precedence). */
  redisPassword: optionalRedacted("REDIS_PASSWORD"),
  /** AUTH password of the sentinels (they often have their own `requirepass`). */
  redisSentinelPassword: optionalRedacted("REDIS_SENTINEL_PASSWORD"),
  /** TLS to Redis (and to the sentinels); a `rediss://` REDIS_URL implies it. */
  redisTls: Config.Boolean("REDIS_TLS").pipe(Config.withDefault(false)),
  /** PEM file of the CA that signed the Redis certificates, when it is not a public one. */
  redisTlsCa: optionalString("REDIS_TLS_CA"),
  /**
   * After every write, WAIT until this many replicas acknowledged it before answering; a write
   * they do not acknowledge in time is reported as unavailable (safe to retry). 0: do not wait.
   */
  redisMinReplicasAck: nonNegativeInt("REDIS_MIN_REPLICAS_ACK").pipe(Config.withDefault(0)),
  /** How long one write waits for REDIS_MIN_REPLICAS_ACK replicas (WAIT's timeout). */
  redisReplicasAckTimeoutMs: positiveInt("REDIS_REPLICAS_ACK_TIMEOUT_MS").pipe(Config.withDefault(500)),
  /** Retries after the first try of a store call, on connection errors or timeouts only (request path). */
  storeRetryAttempts: nonNegativeInt("STORE_RETRY_ATTEMPTS").pipe(Config.withDefault(2)),
  /**
   * The history tier (DESIGN 9): `on` starts the history store (DATABASE_URL, else a private
   * PostgreSQL under DATA_DIR/postgres) and the archiver, which copies the ledger's history there
   * and trims Redis to the live state (Redis stays bounded). `off`: Redis keeps everything (capped
   * only by REDIS_EVENTS_MAXLEN) and grows with every movement. Unset: historyArchiveDefault.
   */
  historyArchive: Config.all([
    Config.Literals(["on", "off"], "HISTORY_ARCHIVE").pipe(Config.withDefault(undefined)),
    optionalString("REDIS_URL"),
    optionalString("REDIS_SENTINELS"),
    optionalRedacted("DATABASE_URL")
  ]).pipe(Config.map(([set, redisUrl, redisSentinels, databaseUrl]) =>
    set ?? historyArchiveDefault({
      sharedRedis: redisUrl !== undefined || redisSentinels !== undefined,
      sharedDatabase: databaseUrl !== undefined
    })
  )),
  /** Whether HISTORY_ARCHIVE was set at all (the default is decided, and warned about, by ServiceStore.layer). */
  historyArchiveSet: optionalString("HISTORY_ARCHIVE").pipe(Config.map((v) => v !== undefined)),
  /** postgres://user:password@host:port/database of the history store; unset: a private server under DATA_DIR. */
  databaseUrl: optionalRedacted("DATABASE_URL"),
  /** Password of DATABASE_URL's user, when it is not in the URL (keeps the secret out of the URL). */
  databasePassword: optionalRedacted("DATABASE_PASSWORD"),
  /** Connections of the history store's pool. */
  databasePoolSize: positiveInt("DATABASE_POOL_SIZE").pipe(Config.withDefault(4)),
  /** Port of the private PostgreSQL that `npm start` runs without DATABASE_URL; 0 picks a free one. */
  localPostgresPort: nonNegativeInt("LOCAL_POSTGRES_PORT").pipe(Config.withDefault(0)),
  /** Pause between archiver passes once it has caught up (a pass that found a full batch runs again at once). */
  archiveIntervalMs: positiveInt("ARCHIVE_INTERVAL_MS").pipe(Config.withDefault(500)),
  /** Redis stream events per archiver batch (one PostgreSQL transaction). */
  archiveBatchEvents: positiveInt("ARCHIVE_BATCH_EVENTS").pipe(Config.withDefault(1_000)),
  /** How long the archiver's lease in Redis lasts without renewal; another instance takes over after it. */
  archiveLeaseMs: positiveInt("ARCHIVE_LEASE_MS").pipe(Config.withDefault(15_000)),
  /**
   * How long a closed object (settled/cancelled pot, closed reservation) stays in Redis after it
   * closed, once the archive holds it whole; then it leaves Redis entirely and is read from
   * PostgreSQL. Default: IDEMPOTENCY_TTL_MS's default, so that a game retrying within the
   * idempotency window still meets the object in Redis.
   */
  closedRetentionMs: nonNegativeInt("CLOSED_RETENTION_MS").pipe(Config.withDefault(86_400_000)),
  /** How often balance_redis_used_memory_bytes is sampled (INFO memory). */
  redisMemorySampleMs: positiveInt("REDIS_MEMORY_SAMPLE_MS").pipe(Config.withDefault(10_000)),
  dataDir: Config.String("DATA_DIR").pipe(Config.withDefault(".data")),
  store: Config.Literals(["redis", "memory"], "BALANCE_STORE").pipe(Config.withDefault("redis" as const)),
  /** The hold a buy-in gets when it asks for none; at most the hold any buy-in may ask for. */
  reservationTimeoutMs: positiveInt("RESERVATION_TIMEOUT_MS", MAX_RESERVATION_TIMEOUT_MS).pipe(Config.withDefault(30_000)),
  reservationSweepMs: positiveInt("RESERVATION_SWEEP_MS").pipe(Config.withDefault(1_000)),
  idempotencyTtlMs: positiveInt("IDEMPOTENCY_TTL_MS").pipe(Config.withDefault(86_400_000)),
  /**
   * How idempotency records are written in Redis: `compact` (one string, one write, about half the
   * memory) or `hash` (f and r, as versions before compact records wrote them). Both forms are always
   * read. Set `hash` only while instances of such an earlier version still run against the same Redis:
   * those cannot read a compact record (docs/operations.md §9).
   */
  idempotencyRecords: Config.Literals(["hash", "compact"], "IDEMPOTENCY_RECORDS").pipe(Config.withDefault("compact" as const)),
  /**
   * With HISTORY_ARCHIVE=on, what the transfer lists hold: `refs` (a reference into the events
   * stream, each transfer stored once) or `full` (the transfer again, as versions before refs wrote
   * it). Both are always read. Set `full` only while instances of such an earlier version still run
   * against the same Redis: those cannot read a reference, and their archiver would trim events that
   * references still need (docs/operations.md §9). HISTORY_ARCHIVE=off: always `full`.
   */
  transferLists: Config.Literals(["refs", "full"], "TRANSFER_LISTS").pipe(Config.withDefault("refs" as const)),
  /**
   * Serve single-object reads (GetBalance, GetTableStack, ...) from this instance's memory while
   * Redis's CLIENT TRACKING says they did not change (docs/read-cache.md); `off`: every read goes to Redis.
   */
  readCache: Config.Literals(["on", "off"], "READ_CACHE").pipe(Config.withDefault("on" as const)),
  /** Objects the read cache holds at most (least recently used dropped first). */
  readCacheMaxObjects: positiveInt("READ_CACHE_MAX_OBJECTS").pipe(Config.withDefault(100_000)),
  rakeBasisPoints: nonNegativeInt("RAKE_BASIS_POINTS").pipe(Config.withDefault(0)),
  rakeCapChips: nonNegativeInt("RAKE_CAP_CHIPS").pipe(Config.withDefault(0)),
  rakeMinPotChips: nonNegativeInt("RAKE_MIN_POT_CHIPS").pipe(Config.withDefault(0)),
  ledgerHmacKey: optionalString("LEDGER_HMAC_KEY"),
  ledgerVerifyIntervalMs: positiveInt("LEDGER_VERIFY_INTERVAL_MS").pipe(Config.withDefault(60_000)),
  ledgerFullVerifyIntervalMs: positiveInt("LEDGER_FULL_VERIFY_INTERVAL_MS").pipe(Config.withDefault(3_600_000)),
  /** Credits accepted into the durable queue while the store is down, at most. */
  creditQueueMax: positiveInt("CREDIT_QUEUE_MAX").pipe(Config.withDefault(10_000)),
  creditQueueDrainMs: positiveInt("CREDIT_QUEUE_DRAIN_MS").pipe(Config.withDefault(500)),
  creditQueueHoldMs: nonNegativeInt("CREDIT_QUEUE_HOLD_MS").pipe(Config.withDefault(300_000)),
  cacheMaxObjects: positiveInt("CACHE_MAX_OBJECTS").pipe(Config.withDefault(100_000)),
  /** Re-plans per command after version conflicts (each one a round trip) before answering LedgerContention. */
  conflictRetries: positiveInt("CONFLICT_RETRIES").pipe(Config.withDefault(100)),
  /** The game's credential: when set, every game call must carry metadata `authorization: Bearer <token>`. */
  grpcAuthToken: Config.Redacted("GRPC_AUTH_TOKEN").pipe(
    Config.map((r) => (Redacted.value(r).trim() === "" ? undefined : r)),
    Config.withDefault(undefined)
  ),
  /**
   * Accept the game's calls without GRPC_AUTH_TOKEN or mutual TLS even where gRPC listens beyond
   * loopback (a private network you trust). Warned at every start; admin methods still need admin credentials.
   */
  grpcAllowUnauthenticated: Config.Boolean("GRPC_ALLOW_UNAUTHENTICATED").pipe(Config.withDefault(false)),
  /** PEM file paths; cert + key switch the gRPC server to TLS, CA additionally requires client certificates. */
  grpcTlsCert: optionalString("GRPC_TLS_CERT"),
  grpcTlsKey: optionalString("GRPC_TLS_KEY"),
  grpcTlsCa: optionalString("GRPC_TLS_CA"),
  /** How long shutdown waits for in-flight gRPC calls before cutting them off. */
  grpcShutdownTimeoutMs: positiveInt("GRPC_SHUTDOWN_TIMEOUT_MS").pipe(Config.withDefault(5_000)),
  /** How often WatchAccount streams look for new ledger events. */
  grpcWatchPollMs: positiveInt("GRPC_WATCH_POLL_MS").pipe(Config.withDefault(100)),
  logLevel: logLevel("LOG_LEVEL").pipe(Config.withDefault("Info" as const)),
  /** The source revision this build came from, for balance_build_info (set by the image build or the deployment). */
  buildCommit: optionalString("BUILD_COMMIT"),
  // HTTP API auth (src/api/http). JWT_SECRET is the legacy name of JWT_HS256_SECRET.
  jwtHs256Secret: optionalString("JWT_HS256_SECRET"),
  jwtSecret: optionalString("JWT_SECRET"),
  jwtJwksUrl: optionalString("JWT_JWKS_URL"),
  /** How long an unknown `kid` waits before the JWKS is fetched again (jose's cooldown). */
  jwtJwksCooldownMs: nonNegativeInt("JWT_JWKS_COOLDOWN_MS").pipe(Config.withDefault(30_000)),
  jwtIssuer: optionalString("JWT_ISSUER"),
  /** One audience or a comma-separated list. */
  jwtAudience: optionalString("JWT_AUDIENCE"),
  adminApiKey: optionalString("ADMIN_API_KEY"),
  /** Local experiments only: every HTTP request and gRPC call is treated as an admin's. */
  authDisabled: Config.Boolean("AUTH_DISABLED").pipe(Config.withDefault(false)),
  httpMaxBodyBytes: positiveInt("HTTP_MAX_BODY_BYTES").pipe(Config.withDefault(65_536)),
  /** The one completion line per HTTP request at Info (Debug when false); a few µs each. */
  httpAccessLog: Config.Boolean("HTTP_ACCESS_LOG").pipe(Config.withDefault(true)),
  /** The same for gRPC calls (read in src/observability/RequestLog.ts). */
  grpcAccessLog: Config.Boolean("GRPC_ACCESS_LOG").pipe(Config.withDefault(true))
} as const

import { existsSync } from "node:fs"
import { join } from "node:path"
import { afterAll, assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import { Redis } from "ioredis"
import { HistoryStore } from "../../src/history/HistoryStore.ts"
import { type LogLine, parseJsonLines, runMainToExit } from "../app/support/mainProcess.ts"
import { type ChaosClient, chaosClient } from "../chaos/support/grpcClient.ts"
import { metricSum, parseMetrics, removeDir, type ServiceProcess, startService } from "../chaos/support/serviceProcess.ts"
import { assertBooksBalance, auditBooks, startWorkload, type Target, waitQueuesDrained } from "../chaos/support/workload.ts"
import { eventually } from "../support/eventually.ts"
import { startTestPostgresServer, type TestPostgresServer } from "../support/postgresServer.ts"
import { startTestRedisServer, type TestRedisServer } from "../support/redisServer.ts"

/**
 * Instances of the service (child processes) on one shared Redis (REDIS_URL), as reviewers run
 * two `npm start`: without DATABASE_URL the archive is off by default (each instance would archive
 * into a private PostgreSQL of its own and Redis would be trimmed on the strength of either), said
 * once at start; an explicit HISTORY_ARCHIVE=on with private PostgreSQLs is one instance's
 * choice, and the second such instance is refused at start (one archive per Redis); instances
 * sharing one DATABASE_URL archive into that one history.
 */

const ARCHIVE_ID_KEY = "balance:archive:id"
const UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
const PLAYERS = 3

const redisServers: Array<TestRedisServer> = []
const services: Array<ServiceProcess> = []
const clients: Array<ChaosClient> = []
let postgres: TestPostgresServer | undefined

afterAll(async () => {
  for (const c of clients) c.close()
  await Promise.all(services.map((s) => s.terminate()))
  for (const r of redisServers) await r.dispose()
  await postgres?.dispose()
  for (const s of services) removeDir(s.dataDir)
})

const startRedis = async () => {
  const redis = await startTestRedisServer()
  redisServers.push(redis)
  return redis
}

const start = async (redis: TestRedisServer, env: Record<string, string> = {}) => {
  const service = await startService({ redisUrl: redis.url, env: { ARCHIVE_INTERVAL_MS: "100", ARCHIVE_LEASE_MS: "3000", ...env } })
  services.push(service)
  return service
}

const onRedis = async <A>(redis: TestRedisServer, read: (client: Redis) => Promise<A>): Promise<A> => {
  const client = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 })
  try {
    await client.connect()
    return await read(client)
  } finally {
    client.disconnect()
  }
}

/** The archive Redis belongs to (null: none claimed it). */
const claimedArchive = (redis: TestRedisServer): Promise<string | null> => onRedis(redis, (c) => c.get(ARCHIVE_ID_KEY))

/** The last stream event the archiver trimmed from Redis (null: nothing trimmed). */
const trimCursor = (redis: TestRedisServer): Promise<string | null> => onRedis(redis, (c) => c.hget("balance:trimmed", "cursor"))

const warnedArchiveOff = (logs: ReadonlyArray<LogLine>) =>
  logs.filter((l) => l.level === "WARN" && String(l.message).startsWith("HISTORY_ARCHIVE is off"))

/** The id the service logged at start as its archive's (absent when the archive is off). */
const loggedArchiveId = (logs: ReadonlyArray<LogLine>): string | undefined =>
  logs.find((l) => l.message === "history archive of this Redis")?.archiveId

const rowsArchived = async (service: ServiceProcess) => metricSum(parseMetrics(await service.metrics()), "balance_archive_rows_total")

/** A game across `instances` (every call to the next one), then the books audited through the first, verification included. */
const playAndAudit = async (instances: ReadonlyArray<ServiceProcess>, prefix: string) => {
  const [first, ...peers] = instances as [ServiceProcess, ...Array<ServiceProcess>]
  const client = chaosClient(instances.map((s) => s.grpcAddress))
  clients.push(client)
  const target: Target = { client, service: first, peers }
  const w = await startWorkload(target, { prefix, players: PLAYERS, maxRounds: 10_000, cashierPaceMs: 20, readerPaceMs: 50 })
  try {
    await eventually("three rounds per player", () => (w.rounds() >= PLAYERS * 3 ? true : undefined), { timeoutMs: 90_000 })
  } finally {
    await w.stop()
  }
  await waitQueuesDrained(target)
  assert.deepStrictEqual(w.stats.unexpected, [], "answers outside the contract")
  assertBooksBalance(await auditBooks(target, w.acks, w.accounts))
  return { target, workload: w }
}

describe("instances on one shared Redis", () => {
  it("(a) no DATABASE_URL, HISTORY_ARCHIVE unset: both start with the archive off, each says why once, money moves", async () => {
    const redis = await startRedis()
    const [a, b] = await Promise.all([start(redis), start(redis)])
    for (const s of [a, b]) {
      const warned = warnedArchiveOff(s.logs)
      assert.lengthOf(warned, 1, "one WARN line at start")
      assert.include(warned[0]!.message, "Set DATABASE_URL to a PostgreSQL that every instance on this Redis shares")
      assert.isUndefined(loggedArchiveId(s.logs))
      // No private PostgreSQL was started.
      assert.isFalse(existsSync(join(s.dataDir, "postgres")))
      const status = await s.http("/api/admin/archive", { headers: { "x-admin-key": "chaos-admin-key" } })
      assert.strictEqual(((await status.json()) as { state: string }).state, "NOT_CONFIGURED")
    }
    await playAndAudit([a, b], "off")
    assert.strictEqual(await claimedArchive(redis), null, "no archive claimed the Redis")
    for (const s of [a, b]) {
      assert.deepStrictEqual(s.logs.filter((l) => l.level === "ERROR" || l.level === "FATAL"), [])
      assert.lengthOf(warnedArchiveOff(s.logs), 1)
    }
  }, 240_000)

  it("(b) HISTORY_ARCHIVE=on with a private PostgreSQL each: the second refuses to start, naming both archives; the first goes on; an instance without the history tier is refused too", async () => {
    const redis = await startRedis()
    const first = await start(redis, { HISTORY_ARCHIVE: "on" })
    const firstArchive = loggedArchiveId(first.logs)
    assert.match(firstArchive ?? "", new RegExp(`^${UUID}$`))
    assert.strictEqual(await claimedArchive(redis), firstArchive)
    assert.lengthOf(warnedArchiveOff(first.logs), 0)

    const second = await runMainToExit({ BALANCE_STORE: "redis", REDIS_URL: redis.url, HISTORY_ARCHIVE: "on" }, 90_000)
    const privatePostgresStarted = existsSync(join(second.dataDir, "postgres"))
    second.cleanup()
    assert.strictEqual(second.code, 1)
    assert.isTrue(privatePostgresStarted, "the second had its own history store")
    const fatal = parseJsonLines(second.stdout).filter((l) => l.level === "FATAL")
    assert.lengthOf(fatal, 1)
    assert.strictEqual(fatal[0]!.error, "ArchiveIdentityMismatch")
    const named = new RegExp(`^balance-service failed to start: this Redis belongs to archive (${UUID}), but this instance's history store is archive (${UUID}):`)
      .exec(fatal[0]!.message)
    assert.isNotNull(named, fatal[0]!.message)
    assert.strictEqual(named![1], firstArchive)
    assert.notStrictEqual(named![2], firstArchive)
    assert.include(fatal[0]!.message, "Set DATABASE_URL to the PostgreSQL the other instances on this Redis use")
    assert.include(fatal[0]!.message, "restore it from its backup")
    // Refused before it served or archived anything: the claim is unchanged.
    assert.notInclude(second.stdout, "history archive of this Redis")
    assert.strictEqual(await claimedArchive(redis), firstArchive)

    await playAndAudit([first], "on1")
    await eventually("the first to archive the game", async () => ((await rowsArchived(first)) > 0 ? true : undefined), { timeoutMs: 30_000 })
    await eventually("Redis to be trimmed", async () => ((await trimCursor(redis)) ?? "0") !== "0" ? true : undefined, { timeoutMs: 60_000 })

    // Without the history tier (set off, or off by default on a shared Redis without DATABASE_URL), an instance
    // would answer history reads without what the archive alone holds now: refused, naming the archive.
    for (const env of [{ HISTORY_ARCHIVE: "off" }, {}]) {
      const withoutHistory = await runMainToExit({ BALANCE_STORE: "redis", REDIS_URL: redis.url, ...env }, 90_000)
      withoutHistory.cleanup()
      assert.strictEqual(withoutHistory.code, 1, JSON.stringify(env))
      const refused = parseJsonLines(withoutHistory.stdout).filter((l) => l.level === "FATAL")
      assert.lengthOf(refused, 1, JSON.stringify(env))
      assert.strictEqual(refused[0]!.error, "HistoryArchiveRequired")
      assert.include(refused[0]!.message, `this Redis' history is archived in archive ${firstArchive}`)
      assert.include(refused[0]!.message, "Start this instance with HISTORY_ARCHIVE=on and DATABASE_URL set to the PostgreSQL of that archive")
    }
    assert.strictEqual(await claimedArchive(redis), firstArchive)
    assert.deepStrictEqual(first.logs.filter((l) => l.level === "ERROR" || l.level === "FATAL"), [])
  }, 300_000)

  it("(c) one DATABASE_URL shared: both start, and archive into one history that both read across the tiers", async () => {
    const redis = await startRedis()
    postgres = await startTestPostgresServer()
    const databaseUrl = postgres.url
    const [a, b] = await Promise.all([start(redis, { DATABASE_URL: databaseUrl }), start(redis, { DATABASE_URL: databaseUrl })])
    const archive = <A>(read: (h: HistoryStore["Service"]) => Effect.Effect<A, unknown>) =>
      Effect.runPromise(Effect.scoped(Effect.flatMap(Effect.map(Layer.build(HistoryStore.layer(databaseUrl)), Context.get(HistoryStore)), read)))
    const archiveId = await archive((h) => h.archiveId())
    for (const s of [a, b]) {
      assert.strictEqual(loggedArchiveId(s.logs), archiveId)
      assert.lengthOf(warnedArchiveOff(s.logs), 0)
    }
    assert.strictEqual(await claimedArchive(redis), archiveId)

    await playAndAudit([a, b], "shared")
    const archived = await eventually("the archive to hold the game", async () => {
      const n = (await archive((h) => h.summary())).archivedEntries
      return n > 0 && (await rowsArchived(a)) + (await rowsArchived(b)) > 0 ? n : undefined
    }, { timeoutMs: 60_000, intervalMs: 500 })

    // Redis was trimmed of what the archive holds: the audits from here on read across both tiers.
    await eventually("Redis to be trimmed", async () => ((await trimCursor(redis)) ?? "0") !== "0" ? true : undefined, { timeoutMs: 60_000 })
    // The archiving instance stops; the other takes the lease over and goes on into the same history.
    await a.terminate()
    const rowsBefore = await rowsArchived(b)
    await playAndAudit([b], "shared2")
    await eventually("the remaining instance to archive into the same history", async () =>
      (await rowsArchived(b)) > rowsBefore && (await archive((h) => h.summary())).archivedEntries > archived ? true : undefined, { timeoutMs: 60_000, intervalMs: 500 })
    assert.strictEqual(await claimedArchive(redis), archiveId)
    for (const s of [a, b]) assert.deepStrictEqual(s.logs.filter((l) => l.level === "ERROR" || l.level === "FATAL"), [])
  }, 300_000)
})

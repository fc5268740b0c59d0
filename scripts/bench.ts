/**
 * `npm run bench`: the balance service side by side with a do-nothing grpc-js
 * server, driven by the same load generator. See docs/benchmarks.md.
 *
 *   npm run bench                               full run: game, buyin, balance (service and baseline, alternating)
 *   npm run bench -- --quick                    10-second smoke (CI), no thresholds
 *   npm run bench -- --workload game --tables 32 --duration 60 --warmup 10
 *   npm run bench -- --light-tables 4           the light-load game (default 4 tables, after the workloads; 0: none),
 *                                               with the fsync p99 of Redis' data dir measured in the same window
 *   npm run bench -- --soak 300                 RSS (and the heap after full GCs) over a 5-minute game soak
 *   npm run bench -- --preload-entries 1000000  game on an empty store vs one with 1M ledger entries
 *   npm run bench -- --tracing                  game CPU per RPC with tracing off vs on (no-op OTLP sink)
 *   npm run bench -- --expiry 1000              lateness of 1,000 one-second holds voided by the expiry sweep (p99 < 5 s)
 *   npm run bench -- --cpu-prof .bench/prof     the service writes a V8 CPU profile there on exit
 *   npm run bench -- --keep --service-node-args=--trace-gc   extra node flags; --keep leaves the temp dir (logs)
 *   npm run bench -- --service-env ARCHIVE_BATCH_EVENTS=200 --service-env ...   extra environment of every
 *                                               service instance (they get only the bench's own settings and these)
 *   npm run bench -- --workload game --script-profile   Redis' execution time by script (SLOWLOG during the window;
 *                                               it slows Redis down: shares, not target figures)
 *   npm run bench -- --log-level Info           the service's LOG_LEVEL (default Warn: no per-call lines)
 *   npm run bench -- --archiver-instance         a second instance holds the archive lease and archives; the measured one
 *                                               takes the calls without the archiver in its process
 *   npm run bench -- --redis-tcp                the service reaches Redis over loopback TCP (default: its Unix socket, as npm start)
 *   npm run bench -- --memory-store             the service on its in-memory store (BALANCE_STORE=memory): its cost without Redis
 *   npm run bench -- --no-archive               every mode without the history tier (HISTORY_ARCHIVE=off, as before
 *                                               session 7): by default the service runs as it ships, archiving to a
 *                                               private PostgreSQL; a soak then reports Redis used_memory, archive lag
 *                                               and rows/s
 *   npm run bench -- --soak 1800 --retention-ms 120000
 *                                               the same with idempotency records and closed objects kept 2 minutes
 *                                               (IDEMPOTENCY_TTL_MS = CLOSED_RETENTION_MS): Redis memory levels off
 *                                               within the soak, at rate x retention + live state
 *
 * Everything runs on 127.0.0.1 with its own redis-server (AOF appendfsync
 * always, as the service ships), bounded in time. The last line printed is
 * one JSON object with every figure and the ratios to the baseline.
 */
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs"
import { cpus, tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { parseArgs } from "node:util"
import { Redis } from "ioredis"
import { redisKeys } from "../src/store/redis/redisKeys.ts"
import type { RedisServerProcess } from "../src/store/redis/redisServerProcess.ts"
import { measureBaseline, measureService, type PhaseSpec, type TargetFigures } from "./bench/measure.ts"
import {
  type Child,
  ensureBuilt,
  type OtlpSink,
  scrapeMetrics,
  type Service,
  startBaseline,
  startOtlpSink,
  startRedis,
  startService,
  stopChild,
  stopRedis
} from "./bench/processes.ts"
import { spawnPostgresServerOnFreePort, stopPostgresServer } from "../src/history/postgresServerProcess.ts"
import { measureExpiry } from "./bench/expiry.ts"
import { BENCH_ADMIN_KEY } from "./bench/proto.ts"
import { seedEntries, type SeedResult } from "./bench/seed.ts"
import { round, sumSamples } from "./bench/stats.ts"
import { accountsOf, WORKLOADS, type WorkloadName } from "./bench/workloads.ts"

// ---------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------

const { values: flags } = parseArgs({
  options: {
    workload: { type: "string", default: "all" },
    tables: { type: "string" },
    workers: { type: "string", default: "2" },
    duration: { type: "string" },
    warmup: { type: "string" },
    rounds: { type: "string" },
    quick: { type: "boolean", default: false },
    soak: { type: "string" },
    archive: { type: "boolean", default: true },
    "retention-ms": { type: "string" },
    "preload-entries": { type: "string" },
    tracing: { type: "boolean", default: false },
    expiry: { type: "string" },
    // --no-baseline (allowNegative: an option named "no-baseline" would never be set by it).
    baseline: { type: "boolean", default: true },
    "cpu-prof": { type: "string" },
    "service-node-args": { type: "string" },
    "service-env": { type: "string", multiple: true },
    "log-level": { type: "string", default: "Warn" },
    "redis-tcp": { type: "boolean", default: false },
    "memory-store": { type: "boolean", default: false },
    "light-tables": { type: "string", default: "4" },
    "script-profile": { type: "boolean", default: false },
    "archiver-instance": { type: "boolean", default: false },
    keep: { type: "boolean", default: false }
  },
  strict: true,
  // --no-archive
  allowNegative: true
})

/**
 * How the service reaches the benchmark's Redis: its Unix socket, as `npm start` reaches its
 * private redis-server (src/store/redis/LocalRedisServer.ts), or loopback TCP with --redis-tcp.
 */
const serviceUrlOf = (server: RedisServerProcess): string =>
  flags["redis-tcp"] || server.socketUrl === undefined ? server.url : server.socketUrl
const transport = flags["redis-tcp"] ? "loopback TCP" : "Unix socket"

const num = (value: string | undefined, name: string): number | undefined => {
  if (value === undefined) return undefined
  const n = Number(value)
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number, got ${value}`)
  return n
}

const mode = flags.soak !== undefined
  ? "soak"
  : flags["preload-entries"] !== undefined
  ? "preload"
  : flags.tracing
  ? "tracing"
  : flags.expiry !== undefined
  ? "expiry"
  : flags.quick
  ? "quick"
  : "full"
const quick = flags.quick
const tables = num(flags.tables, "tables") ?? 32
const workers = num(flags.workers, "workers") ?? 2
/** Preload compares two stores, tracing two services: both alternate over 2 rounds unless told otherwise. */
const rounds = num(flags.rounds, "rounds") ?? (mode === "preload" || mode === "tracing" ? 2 : 1)
/** The soak's reference RSS is taken after its warm-up: long enough for V8 to have sized its heap. */
const warmupS = num(flags.warmup, "warmup") ?? (quick ? 0.5 : mode === "soak" ? 60 : 10)
/** Per workload: game is the one the targets are about, so it gets the longest window. */
const durationOf = (w: WorkloadName): number =>
  num(flags.soak, "soak") ?? num(flags.duration, "duration") ?? (quick ? 1 : w === "game" ? 60 : 20)
const workloads: ReadonlyArray<WorkloadName> = mode === "full" || mode === "quick"
  ? flags.workload === "all"
    ? WORKLOADS
    : flags.workload.split(",").map((w) => {
      if (!(WORKLOADS as ReadonlyArray<string>).includes(w)) throw new Error(`unknown workload ${w} (game, buyin, balance)`)
      return w as WorkloadName
    })
  : ["game"]
const withBaseline = flags.baseline && (mode === "full" || mode === "quick")
/** The light-load game after the side-by-side workloads (full and quick runs, when game is one of them). */
const lightTables = flags["light-tables"] === "0" ? 0 : num(flags["light-tables"], "light-tables") ?? 4
const cpuProfDir = flags["cpu-prof"] === undefined ? undefined : resolve(flags["cpu-prof"])
/**
 * --retention-ms: the service keeps idempotency records and closed objects (CLOSED_RETENTION_MS) this
 * long instead of 24 h, so that a soak of minutes shows Redis' memory level off. Retirement needs
 * the history tier: not with --no-archive.
 */
const retentionMs = num(flags["retention-ms"], "retention-ms")
if (flags["archiver-instance"] && (!flags.archive || flags["memory-store"] || (mode !== "full" && mode !== "quick"))) {
  throw new Error(
    "--archiver-instance needs the archive on Redis (not --no-archive or --memory-store: the instances must share one store) " +
      "and a side-by-side run (not --soak, --preload-entries, --tracing or --expiry)"
  )
}
if (retentionMs !== undefined && (!Number.isInteger(retentionMs) || !flags.archive)) {
  throw new Error(`--retention-ms must be a whole number of ms and needs the archive (closed objects leave Redis only once archived), got ${flags["retention-ms"]}${flags.archive ? "" : " with --no-archive"}`)
}

const log = (line: string) => console.log(line)

// ---------------------------------------------------------------------------
// Processes
// ---------------------------------------------------------------------------

/** What the bench itself must set for its probes and processes to find the service (processes.ts). */
const BENCH_OWNED_ENV = new Set(["REDIS_URL", "HOST", "HTTP_PORT", "GRPC_PORT", "METRICS_PORT", "DATA_DIR", "ADMIN_API_KEY"])
/** --service-env NAME=VALUE (repeatable): set last, over the bench's own settings, on every instance it starts. */
const serviceEnv: Record<string, string> = Object.fromEntries((flags["service-env"] ?? []).map((pair) => {
  const at = pair.indexOf("=")
  if (at <= 0) throw new Error(`--service-env takes NAME=VALUE, got ${JSON.stringify(pair)}`)
  const name = pair.slice(0, at)
  if (BENCH_OWNED_ENV.has(name)) throw new Error(`--service-env: ${name} is the bench's own (it finds the service by it)`)
  return [name, pair.slice(at + 1)]
}))
const work = mkdtempSync(join(tmpdir(), "balance-bench-"))
let serviceCount = 0
const services: Array<Service> = []
const owned: Array<() => Promise<void>> = []
/** The private PostgreSQL (not with --no-archive) the service archives to, and its postmaster. */
let historyDatabaseUrl: string | undefined
let historyPostgresPid: number | undefined

const launchService = async (
  redisUrl: string,
  extraEnv: Readonly<Record<string, string>> = {},
  extraNodeArgs: ReadonlyArray<string> = []
): Promise<Service> => {
  serviceCount += 1
  // stdout goes to a file in the work dir, as it would to a log shipper.
  const env = {
    LOG_LEVEL: flags["log-level"],
    ...(flags["memory-store"] ? { BALANCE_STORE: "memory" } : {}),
    // As the service ships (HISTORY_ARCHIVE=on, archiving to the bench's private PostgreSQL), or with
    // --no-archive as before the history tier (HISTORY_ARCHIVE=off: comparable with runs before session 7).
    ...(historyDatabaseUrl === undefined ? { HISTORY_ARCHIVE: "off" } : { HISTORY_ARCHIVE: "on", DATABASE_URL: historyDatabaseUrl }),
    ...(retentionMs === undefined ? {} : { IDEMPOTENCY_TTL_MS: String(retentionMs), CLOSED_RETENTION_MS: String(retentionMs) }),
    ...extraEnv,
    ...serviceEnv
  }
  if (cpuProfDir) mkdirSync(cpuProfDir, { recursive: true })
  const service = await startService({
    redisUrl,
    dataDir: join(work, `service-${serviceCount}`),
    logFile: join(work, `service-${serviceCount}.log`),
    env,
    postgresPid: historyPostgresPid,
    nodeArgs: [
      ...(cpuProfDir ? ["--cpu-prof", "--cpu-prof-dir", cpuProfDir] : []),
      ...(flags["service-node-args"]?.split(" ").filter((a) => a !== "") ?? []),
      ...extraNodeArgs
    ]
  })
  log(`service pid ${service.pid} on ${service.grpcAddress} (metrics ${service.metricsUrl})`)
  services.push(service)
  return service
}

// ---------------------------------------------------------------------------
// Reporting
// ---------------------------------------------------------------------------

const ratio = (a: number, b: number) => (b === 0 ? null : round(a / b, 2))
/** The service's figures over the do-nothing server's, as every side-by-side result reports them. */
const ratiosToBaseline = (
  sf: { rps: number; cpuUsPerRpc: number; latencyMs: { p50: number; p99: number } },
  bf: { rps: number; cpuUsPerRpc: number; latencyMs: { p50: number; p99: number } }
) => ({
  rps: ratio(sf.rps, bf.rps),
  cpuPerRpc: ratio(sf.cpuUsPerRpc, bf.cpuUsPerRpc),
  p50: ratio(sf.latencyMs.p50, bf.latencyMs.p50),
  p99: ratio(sf.latencyMs.p99, bf.latencyMs.p99)
})

const pad = (s: string | number, n: number) => String(s).padStart(n)

const row = (label: string, target: string, f: TargetFigures) =>
  [
    label.padEnd(8),
    target.padEnd(9),
    pad(f.rps, 7),
    pad(f.latencyMs.p50.toFixed(2), 7),
    pad(f.latencyMs.p90.toFixed(2), 7),
    pad(f.latencyMs.p99.toFixed(2), 7),
    pad(f.latencyMs.max.toFixed(1), 7),
    pad(f.cpuUsPerRpc, 7),
    pad(f.redis ? f.redis.roundTripsPerRpc.toFixed(2) : "-", 6),
    pad(`${f.rssMbStart}->${f.rssMbEnd}`, 13),
    pad(f.server ? f.server.handlerP99Ms.toFixed(2) : "-", 7),
    pad(f.errors, 6)
  ].join(" ")

const HEADER = [
  "workload".padEnd(8),
  "target".padEnd(9),
  pad("RPC/s", 7),
  pad("p50ms", 7),
  pad("p90ms", 7),
  pad("p99ms", 7),
  pad("maxms", 7),
  pad("CPUus", 7),
  pad("RT/RPC", 6),
  pad("RSS MB", 13),
  pad("srvp99", 7),
  pad("errors", 6)
].join(" ")

const methodTable = (f: TargetFigures) =>
  Object.entries(f.latencyMsByMethod).map(([method, s]) =>
    `    ${f.target.padEnd(9)} ${method.padEnd(19)} n=${pad(s.count, 7)}  p50 ${pad(s.p50.toFixed(2), 6)}  p90 ${pad(s.p90.toFixed(2), 6)}  p99 ${pad(s.p99.toFixed(2), 6)}  max ${pad(s.max.toFixed(1), 6)}` +
    (f.server?.handlerP99MsByMethod[method] !== undefined ? `  server p99 ${f.server.handlerP99MsByMethod[method]!.toFixed(2)}` : ""))

/** Several rounds of one target: throughput and costs averaged, latencies and errors at their worst. */
const combine = (list: ReadonlyArray<TargetFigures>): TargetFigures => {
  if (list.length === 1) return list[0]!
  const mean = (f: (x: TargetFigures) => number) => round(list.reduce((s, x) => s + f(x), 0) / list.length, 3)
  const worst = (f: (x: TargetFigures) => number) => Math.max(...list.map(f))
  const first = list[0]!
  return {
    ...first,
    seconds: mean((x) => x.seconds) * list.length,
    rpcs: list.reduce((s, x) => s + x.rpcs, 0),
    rps: Math.round(mean((x) => x.rps)),
    latencyMs: {
      count: list.reduce((s, x) => s + x.latencyMs.count, 0),
      p50: worst((x) => x.latencyMs.p50),
      p90: worst((x) => x.latencyMs.p90),
      p99: worst((x) => x.latencyMs.p99),
      max: worst((x) => x.latencyMs.max)
    },
    cpuUsPerRpc: Math.round(mean((x) => x.cpuUsPerRpc)),
    errors: list.reduce((s, x) => s + x.errors, 0),
    rssMbEnd: list.at(-1)!.rssMbEnd,
    ...(first.redis
      ? { redis: { ...first.redis, roundTripsPerRpc: mean((x) => x.redis!.roundTripsPerRpc), cpuUsPerRpc: Math.round(mean((x) => x.redis!.cpuUsPerRpc)) } }
      : {}),
    ...(first.postgres ? { postgres: { cpuUsPerRpc: Math.round(mean((x) => x.postgres!.cpuUsPerRpc)) } } : {}),
    ...(first.server
      ? {
        server: {
          ...first.server,
          handlerP99Ms: worst((x) => x.server!.handlerP99Ms),
          handlerWithin5msFraction: Math.min(...list.map((x) => x.server!.handlerWithin5msFraction))
        }
      }
      : {})
  }
}

interface Target {
  readonly id: string
  readonly target: string
  readonly value: number | string | null
  readonly met: boolean | null
}

// ---------------------------------------------------------------------------
// Modes
// ---------------------------------------------------------------------------

const spec = (workload: WorkloadName, tag: string, extra: Partial<PhaseSpec> = {}): PhaseSpec => ({
  workload,
  tag,
  tables,
  workers,
  warmupS,
  durationS: durationOf(workload),
  ...(flags["script-profile"] ? { scriptProfile: true } : {}),
  ...extra
})

const describe = (f: TargetFigures) =>
  `${f.target} ${f.workload}: ${f.rps} RPC/s, p99 ${f.latencyMs.p99} ms, ${f.cpuUsPerRpc} µs CPU/RPC` +
  (f.redis ? `, Redis ${f.redis.cpuUsPerRpc} µs CPU/RPC` : "") +
  (f.postgres ? `, PostgreSQL ${f.postgres.cpuUsPerRpc} µs CPU/RPC` : "") +
  (f.redis ? `, ${f.redis.roundTripsPerRpc} Redis RT/RPC (fsync worst/s median ${f.redis.fsyncWorstPerSecondMs.median} ms)` : "") +
  (f.server ? `, handler p50/p99 ${f.server.handlerP50Ms}/${f.server.handlerP99Ms} ms (apply round trip ${f.server.storeApplyP50Ms}/${f.server.storeApplyP99Ms})` : "") +
  `, RSS ${f.rssMbStart}->${f.rssMbEnd} MB, errors ${f.errors}`

type SideBySide = {
  service: TargetFigures
  baseline?: TargetFigures
  ratios?: { readonly rps: number | null; readonly cpuPerRpc: number | null; readonly p50: number | null; readonly p99: number | null }
}

/**
 * The game at `lightTables` tables (light load: latency, not throughput), service and baseline
 * alternating over the rounds; the service's window also probes fsync in Redis' data dir, since
 * at light load a write's latency is mostly its fsync (appendfsync always).
 */
const measureLight = async (service: Service, baseline: Child & { readonly grpcAddress: string } | undefined, redis: Redis, redisDir: string): Promise<SideBySide> => {
  const s: Array<TargetFigures> = []
  const b: Array<TargetFigures> = []
  for (let r = 0; r < rounds; r++) {
    const order: Array<"service" | "baseline"> = baseline ? (r % 2 === 0 ? ["service", "baseline"] : ["baseline", "service"]) : ["service"]
    for (const who of order) {
      const tag = `li${r}${who[0]}`
      const phase = spec("game", tag, { tables: lightTables })
      log(`-- light game round ${r + 1}/${rounds}: ${who} (${lightTables} tables, warm-up ${warmupS}s, ${phase.durationS}s measured)`)
      const f = who === "service"
        ? await measureService(service, redis, { ...phase, fsyncProbeDir: redisDir })
        : await measureBaseline(baseline!, phase)
      log(`   ${describe(f)}${f.redis?.fsyncProbeMs ? `, fsync probe p50/p99 ${f.redis.fsyncProbeMs.p50}/${f.redis.fsyncProbeMs.p99} ms` : ""}`)
      ;(who === "service" ? s : b).push(f)
    }
  }
  // The probe's p99 at its worst over the rounds, like the latencies.
  const probes = s.map((f) => f.redis?.fsyncProbeMs).filter((p) => p !== undefined)
  const sf = combine(s)
  const service_ = probes.length > 0 && sf.redis
    ? { ...sf, redis: { ...sf.redis, fsyncProbeMs: probes.reduce((a, p) => (p.p99 > a.p99 ? p : a)) } }
    : sf
  const bf = b.length > 0 ? combine(b) : undefined
  return {
    service: service_,
    ...(bf
      ? {
        baseline: bf,
        ratios: ratiosToBaseline(sf, bf)
      }
      : {})
  }
}

/**
 * What a call costs, per scenario and target: RPC/s, client p99, CPU per RPC of the service
 * (or the do-nothing server) and of Redis, ledger commands per Redis apply call (group commit's
 * batch size), and the fsync p99 the light scenario measured.
 */
const costTable = (results: Readonly<Record<string, SideBySide>>) => {
  log("")
  log(`${"scenario".padEnd(10)} ${"target".padEnd(9)} ${pad("RPC/s", 7)} ${pad("p99ms", 7)} ${pad("svcCPUus", 9)} ${pad("redisCPUus", 11)} ${pad("pgCPUus", 8)} ${pad("cmd/call", 9)} ${pad("fsync p99ms", 12)}`)
  for (const [name, r] of Object.entries(results)) {
    for (const f of [r.service, ...(r.baseline ? [r.baseline] : [])]) {
      const scenario = name === "light" ? `game@${lightTables}` : `${name}@${tables}`
      log([
        scenario.padEnd(10),
        f.target.padEnd(9),
        pad(f.rps, 7),
        pad(f.latencyMs.p99.toFixed(2), 7),
        pad(f.cpuUsPerRpc, 9),
        pad(f.redis ? f.redis.cpuUsPerRpc : "-", 11),
        pad(f.postgres ? f.postgres.cpuUsPerRpc : "-", 8),
        pad(f.redis?.commandsPerRedisCall ?? "-", 9),
        pad(f.redis?.fsyncProbeMs ? f.redis.fsyncProbeMs.p99.toFixed(2) : "-", 12)
      ].join(" "))
    }
  }
}

/** The issue-18 targets on top of sideBySide's: Redis CPU, GetBalance CPU, light-load p99 (fsync allowed for). */
const costTargets = (results: Readonly<Record<string, SideBySide>>): Array<Target> => {
  const targets: Array<Target> = []
  const game = results.game
  if (game?.service.redis) {
    targets.push({ id: "game.redisCpuPerRpc", target: "<= 40 µs", value: game.service.redis.cpuUsPerRpc, met: game.service.redis.cpuUsPerRpc <= 40 })
  }
  const balance = results.balance
  if (balance?.ratios) {
    const v = balance.ratios.cpuPerRpc
    targets.push({ id: "balance.cpuPerRpc", target: "<= 1.5x baseline", value: v, met: v !== null && v <= 1.5 })
  }
  const light = results.light
  if (light?.baseline) {
    const fsyncP99 = light.service.redis?.fsyncProbeMs?.p99 ?? 0
    const limit = round(light.baseline.latencyMs.p99 * 1.3 + fsyncP99, 2)
    targets.push({
      id: "light.clientP99",
      target: `<= 1.3x baseline p99 + fsync p99 (${light.baseline.latencyMs.p99} ms x 1.3 + ${fsyncP99} ms = ${limit} ms)`,
      value: light.service.latencyMs.p99,
      met: light.service.latencyMs.p99 <= limit
    })
  }
  return targets
}

/**
 * --archiver-instance: a second instance on the same Redis and PostgreSQL, started first so that it
 * holds the archive lease, takes no calls and does all the archiving; the measured instance stands
 * by (its archive interval an hour: it finds the lease held at its start and does not try again
 * within the run). The measured service's figures are then a call's cost without the archiver in
 * its process, with everything else as shipped (the archive on, Redis and PostgreSQL as busy).
 */
const launchArchiverInstance = async (redisUrl: string, redis: Redis) => {
  const archiver = await launchService(redisUrl)
  owned.push(() => stopChild(archiver))
  const deadline = Date.now() + 30_000
  while ((await redis.exists(redisKeys(serviceEnv.REDIS_KEY_PREFIX ?? "balance:").archiverLease)) === 0) {
    if (Date.now() > deadline) throw new Error("--archiver-instance: the archiver instance did not take the archive lease within 30 s")
    await new Promise((r) => setTimeout(r, 100))
  }
  log(`archiver instance pid ${archiver.pid} holds the archive lease; the measured instance stands by`)
}

const sideBySide = async (redisUrl: string, redis: Redis, redisDir: string) => {
  if (flags["archiver-instance"]) await launchArchiverInstance(redisUrl, redis)
  const service = await launchService(redisUrl, flags["archiver-instance"] ? { ARCHIVE_INTERVAL_MS: "3600000" } : {})
  owned.push(() => stopChild(service))
  const baseline = withBaseline ? await startBaseline(join(work, "baseline.log")) : undefined
  if (baseline) {
    log(`baseline pid ${baseline.pid} on ${baseline.grpcAddress}`)
    owned.push(() => stopChild(baseline))
  }
  const results: Record<string, SideBySide> = {}
  for (const workload of workloads) {
    const s: Array<TargetFigures> = []
    const b: Array<TargetFigures> = []
    for (let r = 0; r < rounds; r++) {
      // Alternate who goes first, so neither always runs on a warmer machine.
      const order: Array<"service" | "baseline"> = baseline ? (r % 2 === 0 ? ["service", "baseline"] : ["baseline", "service"]) : ["service"]
      for (const who of order) {
        const tag = `${workload.slice(0, 2)}${r}${who[0]}`
        log(`-- ${workload} round ${r + 1}/${rounds}: ${who} (${tables} tables, warm-up ${warmupS}s, ${durationOf(workload)}s measured)`)
        const f = who === "service" ? await measureService(service, redis, spec(workload, tag)) : await measureBaseline(baseline!, spec(workload, tag))
        log(`   ${describe(f)}`)
        ;(who === "service" ? s : b).push(f)
      }
    }
    const sf = combine(s)
    const bf = b.length > 0 ? combine(b) : undefined
    results[workload] = {
      service: sf,
      ...(bf
        ? {
          baseline: bf,
          ratios: ratiosToBaseline(sf, bf)
        }
        : {})
    }
  }
  if (lightTables > 0 && workloads.includes("game")) results.light = await measureLight(service, baseline, redis, redisDir)
  await stopChild(service)
  if (baseline) await stopChild(baseline)

  log("")
  log(HEADER)
  for (const [workload, r] of Object.entries(results)) {
    log(row(workload, "service", r.service))
    if (r.baseline) log(row(workload, "baseline", r.baseline))
    if (r.ratios) {
      log(`${"".padEnd(8)} ${"ratio".padEnd(9)} ${pad(r.ratios.rps ?? "-", 7)} ${pad(r.ratios.p50 ?? "-", 7)} ${pad("", 7)} ${pad(r.ratios.p99 ?? "-", 7)} ${pad("", 7)} ${pad(r.ratios.cpuPerRpc ?? "-", 7)}`)
    }
  }
  costTable(results)
  log("")
  log("per method (client-observed ms; server p99 from the service's handler histogram):")
  for (const [workload, r] of Object.entries(results)) {
    log(`  ${workload}`)
    for (const line of [...methodTable(r.service), ...(r.baseline ? methodTable(r.baseline) : [])]) log(line)
  }
  for (const [workload, r] of Object.entries(results)) {
    const profile = r.service.redis?.scriptProfile
    if (profile === undefined) continue
    log("")
    log(`Redis execution time by script, ${workload} (SLOWLOG; a script's time includes the commands it calls, listed again by name; logging inflates both):`)
    for (const [name, t] of Object.entries(profile).slice(0, 16)) {
      log(`  ${name.padEnd(16)} ${pad(t.calls, 9)} calls ${pad(t.usPerCall.toFixed(1), 9)} µs/call ${pad(t.usPerRpc.toFixed(1), 7)} µs/RPC`)
    }
  }

  const targets: Array<Target> = []
  const game = results.game
  if (game) {
    const s = game.service
    if (game.ratios) {
      targets.push({ id: "game.cpuPerRpc", target: "<= 2x baseline", value: game.ratios.cpuPerRpc, met: game.ratios.cpuPerRpc !== null && game.ratios.cpuPerRpc <= 2 })
      targets.push({ id: "game.rps", target: ">= 0.8x baseline", value: game.ratios.rps, met: game.ratios.rps !== null && game.ratios.rps >= 0.8 })
      targets.push({ id: "game.clientP99", target: "<= 1.5x baseline", value: game.ratios.p99, met: game.ratios.p99 !== null && game.ratios.p99 <= 1.5 })
    }
    targets.push({
      id: "game.serverHandlerP99",
      target: "<= 5 ms (>= 99% of handler observations in the <= 5 ms buckets)",
      value: s.server!.handlerP99Ms,
      met: s.server!.handlerWithin5msFraction >= 0.99
    })
    targets.push({ id: "game.errors", target: "0", value: s.errors, met: s.errors === 0 })
  }
  for (const w of ["game", "buyin"] as const) {
    const r = results[w]
    if (r) {
      targets.push({ id: `${w}.redisRoundTripsPerRpc`, target: "<= 1.1", value: r.service.redis!.roundTripsPerRpc, met: r.service.redis!.roundTripsPerRpc <= 1.1 })
    }
  }
  for (const [w, r] of Object.entries(results)) {
    if (w !== "game") targets.push({ id: `${w}.errors`, target: "0", value: r.service.errors, met: r.service.errors === 0 })
  }
  targets.push(...costTargets(results))
  return { workloads: results, targets }
}

/** `--trace-gc` lines of a full GC: "<ms> ms: Mark-Compact 230.3 (351.0) -> 61.0 (343.8) MB" (heap used (committed) before -> after). */
const markCompacts = (text: string) =>
  [...text.matchAll(/(\d+) ms: Mark-Compact [\d.]+ \([\d.]+\) -> ([\d.]+) \(([\d.]+)\) MB/g)].map((m) => ({
    atMs: Number(m[1]),
    liveMb: Number(m[2]),
    committedMb: Number(m[3])
  }))

/** p-th percentile (nearest rank) of `xs`; null when empty. */
const percentile = (xs: ReadonlyArray<number>, p: number): number | null => {
  if (xs.length === 0) return null
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!
}

/** Mean MEMORY USAGE of up to 500 idempotency records (SCAN over P idem:*), bytes; 0 when there are none. */
const idempotencyRecordBytes = async (redis: Redis): Promise<number> => {
  const sizes: Array<number> = []
  let cursor = "0"
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", "*idem:*", "COUNT", 1000)
    cursor = next
    for (const key of keys) {
      if (sizes.length >= 500) break
      sizes.push(Number(await redis.memory("USAGE", key)))
    }
  } while (cursor !== "0" && sizes.length < 500)
  return sizes.length === 0 ? 0 : sizes.reduce((a, b) => a + b, 0) / sizes.length
}

const soak = async (redisUrl: string, redis: Redis) => {
  const seconds = num(flags.soak, "soak")!
  // --trace-gc: the heap left after each full GC is what a leak would make grow; RSS also follows V8's heap sizing.
  const service = await launchService(redisUrl, {}, ["--trace-gc"])
  owned.push(() => stopChild(service))
  const series: Array<{ t: number; rssMb: number; rps: number }> = []
  /**
   * used_memory, and how many keys carry a TTL: the idempotency records (IDEMPOTENCY_TTL_MS), the one growth the
   * design keeps in Redis (the archiver's lease is the only other key with a TTL).
   */
  const memorySample = async (t: number) => {
    const text = await redis.info("memory", "keyspace")
    return {
      t,
      usedMb: round(Number(/used_memory:(\d+)/.exec(text)?.[1] ?? 0) / 1024 / 1024, 1),
      idempotencyRecords: [...text.matchAll(/^db\d+:keys=\d+,expires=(\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0)
    }
  }
  const redisMemory: Array<Promise<{ t: number; usedMb: number; idempotencyRecords: number }>> = []
  let lastCompleted = 0
  let lastT = 0
  let logOffsetAtStart = 0
  /**
   * With the archive on: the archive's lag every 2 s of the window, from the service's own status
   * (GET /api/admin/archive: entries in the stream after the archive's cursor, age of the oldest).
   */
  const lagSamples: Array<{ entries: number; seconds: number }> = []
  let sampling: ReturnType<typeof setInterval> | undefined
  let metricsAtStart: Promise<string> | undefined
  const sampleLag = async () => {
    try {
      const r = await fetch(`${service.httpUrl}/api/admin/archive`, { headers: { "x-admin-key": BENCH_ADMIN_KEY }, signal: AbortSignal.timeout(900) })
      if (!r.ok) return
      const body = (await r.json()) as { lagEntries?: number; lagSeconds?: number }
      if (typeof body.lagEntries === "number" && typeof body.lagSeconds === "number") lagSamples.push({ entries: body.lagEntries, seconds: body.lagSeconds })
    } catch {
      // a sample that timed out is missing, not zero
    }
  }
  log(`-- soak: game, ${tables} tables, warm-up ${warmupS}s, ${seconds}s measured, RSS every 10 s` +
    (retentionMs === undefined ? "" : `; idempotency records and closed objects kept ${retentionMs} ms`))
  const f = await measureService(service, redis, spec("game", "so0s", {
    durationS: seconds,
    onStart: () => {
      logOffsetAtStart = statSync(service.logFile).size
      if (historyDatabaseUrl !== undefined) {
        metricsAtStart = scrapeMetrics(service)
        void sampleLag()
        sampling = setInterval(() => void sampleLag(), 2_000)
      }
      redisMemory.push(memorySample(0))
    },
    tickS: 10,
    onTick: (t, completed, rssMb) => {
      const rps = Math.round((completed - lastCompleted) / (t - lastT))
      series.push({ t: Math.round(t), rssMb, rps })
      log(`   t=${Math.round(t)}s RSS ${rssMb} MB, ${rps} RPC/s`)
      redisMemory.push(memorySample(Math.round(t)))
      lastCompleted = completed
      lastT = t
    }
  }))
  if (sampling) clearInterval(sampling)
  await sampleLag()
  const metricsAtEnd = await scrapeMetrics(service)
  const startText = metricsAtStart === undefined ? "" : await metricsAtStart
  await stopChild(service)
  log(`   ${describe(f)}`)
  const redisSeries = await Promise.all(redisMemory)
  const recordBytes = await idempotencyRecordBytes(redis)
  // The events stream per event (MEMORY USAGE ... SAMPLES 0: every node counted): its transfers and references to its entries.
  const streamEvents = await redis.xlen("balance:events")
  const streamBytesPerEvent = streamEvents === 0 ? null : round(Number(await redis.call("MEMORY", "USAGE", "balance:events", "SAMPLES", "0")) / streamEvents, 0)
  log(`   Redis used_memory: ${redisSeries.map((x) => `${x.t}s ${x.usedMb} MB`).join(", ")}`)
  const metricIn = (text: string, name: string, labels = "") =>
    [...text.matchAll(new RegExp(`^${name}(\\{[^}]*\\})? (\\S+)$`, "gm"))]
      .filter((m) => (m[1] ?? "").includes(labels))
      .reduce((n, m) => n + Number(m[2]), 0)
  const metric = (name: string, labels = "") => metricIn(metricsAtEnd, name, labels)
  // The figures the issue's targets are stated in (issue 14, "Done when").
  const atFiveMinutes = redisSeries.filter((x) => x.t <= 300).at(-1)
  const atEnd = redisSeries.at(-1)
  // used_memory less the idempotency records (their count x their mean size, sampled at the end).
  const withoutRecords = (x: { usedMb: number; idempotencyRecords: number }) => round(x.usedMb - (x.idempotencyRecords * recordBytes) / 1024 / 1024, 1)
  const redisMemoryFigures = {
    /** Mean MEMORY USAGE of up to 500 idempotency records at the end (key, value, dictionary entry). */
    idempotencyRecordBytes: round(recordBytes, 0),
    idempotencyRecordsAtEnd: atEnd?.idempotencyRecords ?? null,
    streamEventsAtEnd: streamEvents,
    streamBytesPerEvent,
    /** used_memory growth over the window per RPC of the game (everything Redis kept of it). */
    bytesPerRpc: atEnd !== undefined && redisSeries[0] !== undefined && f.rpcs > 0 ? round(((atEnd.usedMb - redisSeries[0].usedMb) * 1024 * 1024) / f.rpcs, 0) : null,
    usedMbWithoutIdempotencyAt5Min: atFiveMinutes !== undefined && seconds >= 300 ? withoutRecords(atFiveMinutes) : null,
    usedMbWithoutIdempotencyAtEnd: atEnd === undefined ? null : withoutRecords(atEnd),
    usedMbAt5Min: atFiveMinutes !== undefined && seconds >= 300 ? atFiveMinutes.usedMb : null,
    usedMbAtEnd: atEnd?.usedMb ?? null,
    /** End vs 5 min (target: within 10 %); null for a soak shorter than 5 minutes. */
    growthPctAfter5Min: atFiveMinutes !== undefined && atEnd !== undefined && seconds >= 300 && atFiveMinutes.usedMb > 0
      ? round(((atEnd.usedMb - atFiveMinutes.usedMb) / atFiveMinutes.usedMb) * 100, 1)
      : null
  }
  // Ledger entries the game wrote in the window = entries archived in it + the growth of the lag
  // (the service counts no entries itself; with the archive on, this is exact up to the lag samples).
  const windowRows = (labels: string) => metric("balance_archive_rows_total", labels) - metricIn(startText, "balance_archive_rows_total", labels)
  const lagDelta = (lagSamples.at(-1)?.entries ?? 0) - (lagSamples[0]?.entries ?? 0)
  const entryRate = historyDatabaseUrl === undefined || f.seconds <= 0 ? null : round((windowRows('kind="entries"') + lagDelta) / f.seconds, 0)
  const archive = historyDatabaseUrl === undefined ? null : (() => {
    const entriesArchived = metric("balance_archive_rows_total", 'kind="entries"')
    return {
      rowsArchived: metric("balance_archive_rows_total"),
      entriesArchived,
      trimmed: metric("balance_archive_trimmed_total"),
      /** Closed objects (pots, reservations) retired from Redis after CLOSED_RETENTION_MS. */
      retired: metric("balance_archive_trimmed_total", 'kind="retired"'),
      lagSecondsAtEnd: metric("balance_archive_lag_seconds"),
      continuityStops: metric("balance_archive_continuity_stops_total"),
      lagSamples: lagSamples.length,
      lagP99Entries: percentile(lagSamples.map((x) => x.entries), 99),
      lagP99Seconds: percentile(lagSamples.map((x) => x.seconds), 99),
      lagMaxSeconds: lagSamples.length === 0 ? null : Math.max(...lagSamples.map((x) => x.seconds)),
      /**
       * Rows (entries, transfers, closed objects) archived per second of the window: what the archiver
       * kept up with, not its capacity (it archives only what the game wrote; capacity:
       * scripts/bench-archive.ts).
       */
      rowsPerSecond: f.seconds > 0 ? round(windowRows("") / f.seconds, 0) : 0
    }
  })()
  log(`   Redis used_memory ${redisMemoryFigures.usedMbAt5Min ?? "(soak < 5 min)"} MB at 5 min, ${redisMemoryFigures.usedMbAtEnd} MB at the end` +
    `${redisMemoryFigures.growthPctAfter5Min === null ? "" : ` (${redisMemoryFigures.growthPctAfter5Min} %)`}; ` +
    `${redisMemoryFigures.bytesPerRpc} B per RPC; stream ${redisMemoryFigures.streamEventsAtEnd} events, ${redisMemoryFigures.streamBytesPerEvent} B each; ` +
    `without the ${redisMemoryFigures.idempotencyRecordsAtEnd} idempotency records (${redisMemoryFigures.idempotencyRecordBytes} B each): ` +
    `${redisMemoryFigures.usedMbWithoutIdempotencyAt5Min ?? "-"} MB at 5 min, ${redisMemoryFigures.usedMbWithoutIdempotencyAtEnd} MB at the end; ` +
    `Redis CPU ${f.redis?.cpuUsPerRpc ?? "?"} µs/RPC; service CPU ${f.cpuUsPerRpc} µs/RPC`)
  if (archive) {
    log(`   archive: lag p99 ${archive.lagP99Entries} entries / ${archive.lagP99Seconds} s (max ${archive.lagMaxSeconds} s, ${archive.lagSamples} samples, one every 2 s); ` +
      `${archive.rowsPerSecond} rows/s archived in the window vs ${entryRate} ledger entries/s written (${archive.rowsArchived} rows, ${archive.entriesArchived} entries in all); ` +
      `trimmed ${archive.trimmed} (closed objects retired ${archive.retired}); continuity stops ${archive.continuityStops}; lag at the end ${archive.lagSecondsAtEnd} s`)
  }
  const gcLog = readFileSync(service.logFile)
  const before = markCompacts(gcLog.subarray(0, logOffsetAtStart).toString("utf8"))
  const during = markCompacts(gcLog.subarray(logOffsetAtStart).toString("utf8"))
  const growth = round((f.rssMbEnd - f.rssMbStart) / f.rssMbStart * 100, 1)
  const heap = {
    fullGcsInWindow: during.length,
    liveMbAfterLastGcBeforeWindow: before.at(-1)?.liveMb ?? null,
    liveMbAfterFullGcsInWindow: during.map((g) => g.liveMb),
    committedMbAtEnd: during.at(-1)?.committedMb ?? before.at(-1)?.committedMb ?? null
  }
  log(`   heap left by full GCs: ${heap.liveMbAfterLastGcBeforeWindow} MB before the window, then ${heap.liveMbAfterFullGcsInWindow.join(", ")} MB`)
  const result = {
    seconds,
    /** --retention-ms: IDEMPOTENCY_TTL_MS and CLOSED_RETENTION_MS of the service (null: their 24 h defaults). */
    retentionMs: retentionMs ?? null,
    rssMbAfterWarmup: f.rssMbStart,
    rssMbEnd: f.rssMbEnd,
    rssMbMax: Math.max(f.rssMbStart, f.rssMbEnd, ...series.map((x) => x.rssMb)),
    growthPct: growth,
    heap,
    series,
    redisUsedMemoryMb: redisSeries,
    redisMemory: redisMemoryFigures,
    redisCpuUsPerRpc: f.redis?.cpuUsPerRpc ?? null,
    serviceCpuUsPerRpc: f.cpuUsPerRpc,
    ledgerEntriesPerSecond: entryRate,
    archive,
    game: f
  }
  return {
    soak: result,
    targets: [
      { id: "soak.rss", target: `RSS after ${seconds}s within 10% of RSS after a ${warmupS}s warm-up`, value: `${growth}%`, met: Math.abs(growth) <= 10 },
      ...(redisMemoryFigures.growthPctAfter5Min === null ? [] : [{
        id: "soak.redisUsedMemory",
        target: "Redis used_memory at the end within 10% of after 5 min",
        value: `${redisMemoryFigures.growthPctAfter5Min}%`,
        met: Math.abs(redisMemoryFigures.growthPctAfter5Min) <= 10
      }]),
      ...(redisMemoryFigures.usedMbWithoutIdempotencyAt5Min === null || redisMemoryFigures.usedMbWithoutIdempotencyAtEnd === null ? [] : (() => {
        const pct = round((redisMemoryFigures.usedMbWithoutIdempotencyAtEnd - redisMemoryFigures.usedMbWithoutIdempotencyAt5Min) / redisMemoryFigures.usedMbWithoutIdempotencyAt5Min * 100, 1)
        return [{
          id: "soak.redisUsedMemoryWithoutIdempotency",
          target: `the same, less the idempotency records (kept ${retentionMs === undefined ? "24 h" : `${retentionMs} ms`} by design)`,
          value: `${pct}%`,
          met: Math.abs(pct) <= 10
        }]
      })()),
      ...(f.redis === undefined ? [] : [{ id: "soak.redisCpuPerRpc", target: "<= 60 µs", value: f.redis.cpuUsPerRpc, met: f.redis.cpuUsPerRpc <= 60 }]),
      ...(archive?.lagP99Seconds == null ? [] : [{ id: "soak.archiveLagP99", target: "<= 2 s", value: archive.lagP99Seconds, met: archive.lagP99Seconds <= 2 }])
    ]
  }
}

/** DESIGN 5: 99% of expiries within 5 s of their deadline, with the default 1-s sweep. */
const expiry = async (redisUrl: string) => {
  const holds = num(flags.expiry, "expiry")!
  const service = await launchService(redisUrl, { RESERVATION_SWEEP_MS: "1000" })
  owned.push(() => stopChild(service))
  log(`-- expiry: ${holds} one-second holds, sweep every 1 s`)
  const figures = await measureExpiry(service.grpcAddress, holds, log)
  await stopChild(service)
  const l = figures.latenessMs
  log(`   lateness p50 ${l.p50} ms, p90 ${l.p90} ms, p99 ${l.p99} ms, max ${l.max} ms; all voided ${figures.sweptAllInMs} ms after the last hold`)
  return {
    expiry: figures,
    targets: [{ id: "expiry.latenessP99", target: "< 5000 ms", value: l.p99, met: l.p99 < 5000 }]
  }
}

const readAdminKey = (service: Service) => readFileSync(join(service.dataDir, "admin-api-key"), "utf8").trim()

const verifyAll = async (service: Service) => {
  const started = performance.now()
  const response = await fetch(`${service.httpUrl}/api/admin/ledger/verify`, {
    method: "POST",
    headers: { "x-admin-key": readAdminKey(service), "content-type": "application/json" },
    body: "null",
    signal: AbortSignal.timeout(600_000)
  })
  const report = await response.json() as Record<string, unknown>
  return { status: response.status, seconds: round((performance.now() - started) / 1000, 1), report }
}

/**
 * Two stores side by side: the empty one (redisUrl) and a second redis-server
 * seeded with `entries` ledger entries first; then fresh services on each,
 * alternating (empty, seeded, seeded, empty, ... for --rounds), so that a
 * noisy minute does not land on one side only.
 */
const preload = async (redisUrl: string, redis: Redis) => {
  const entries = num(flags["preload-entries"], "preload-entries")!
  const seededServer = await startRedis(join(work, "redis-seeded"))
  owned.push(() => stopRedis(seededServer))
  const seededRedis = new Redis(seededServer.url)
  owned.push(async () => void seededRedis.disconnect())
  await seededRedis.config("SET", "latency-monitor-threshold", "1")
  log(`seeded store: redis-server pid ${seededServer.child.pid} on ${seededServer.url}`)

  const seededTag = (r: number) => `pf${r}s`
  const hotWallets = Array.from({ length: rounds }, (_, r) =>
    Array.from({ length: tables }, (_, t) => accountsOf("game", seededTag(r), t)).flat()).flat()
  log(`-- seeding ${entries} ledger entries (half on the ${hotWallets.length} wallets the seeded-store runs play with) through apply.lua`)
  const seeded: SeedResult = await seedEntries({ redisUrl: seededServer.url, entries, hotWallets, tag: "seed", log })
  log(`   ${seeded.entries} entries in ${seeded.applies} applies on ${seeded.wallets} wallets, ${round(seeded.seconds, 1)}s (${seeded.entriesPerSecond}/s)`)
  const keysSeeded = await seededRedis.dbsize()
  const memory = /used_memory_human:(\S+)/.exec(await seededRedis.info("memory"))?.[1]

  const empty: Array<TargetFigures> = []
  const full: Array<TargetFigures> = []
  for (let r = 0; r < rounds; r++) {
    for (const withHistory of r % 2 === 0 ? [false, true] : [true, false]) {
      const url = withHistory ? serviceUrlOf(seededServer) : redisUrl
      const service = await launchService(url)
      owned.push(() => stopChild(service))
      log(`-- ${withHistory ? `store with ${entries} entries` : "empty store"} (round ${r + 1}/${rounds}): game on a fresh service`)
      const f = await measureService(service, withHistory ? seededRedis : redis, spec("game", withHistory ? seededTag(r) : `pe${r}s`))
      await stopChild(service)
      log(`   ${describe(f)}`)
      ;(withHistory ? full : empty).push(f)
    }
  }

  log("-- full ledger verification of the seeded store through a fresh service (outside the measured windows)")
  const verifier = await launchService(serviceUrlOf(seededServer))
  owned.push(() => stopChild(verifier))
  const verification = await verifyAll(verifier)
  await stopChild(verifier)
  log(`   HTTP ${verification.status} in ${verification.seconds}s: ${JSON.stringify(verification.report).slice(0, 300)}`)

  const [a, b] = [combine(empty), combine(full)]
  const rpsRatio = ratio(b.rps, a.rps)
  return {
    preload: {
      entries,
      seeding: { ...seeded, seconds: round(seeded.seconds, 1) },
      seededStoreKeys: keysSeeded,
      seededStoreUsedMemory: memory,
      empty: a,
      preloaded: b,
      rounds: { emptyRps: empty.map((f) => f.rps), preloadedRps: full.map((f) => f.rps) },
      ratios: { rps: rpsRatio, cpuPerRpc: ratio(b.cpuUsPerRpc, a.cpuUsPerRpc), p99: ratio(b.latencyMs.p99, a.latencyMs.p99) },
      verification: { status: verification.status, seconds: verification.seconds, ...verification.report }
    },
    targets: [
      { id: "preload.rps", target: `RPC/s with ${entries} entries >= 0.9x empty store`, value: rpsRatio, met: rpsRatio !== null && rpsRatio >= 0.9 },
      { id: "preload.chainsValid", target: "full verification: no findings, zero sum", value: String(verification.report.ok), met: verification.report.ok === true }
    ]
  }
}

const tracing = async (redisUrl: string, redis: Redis) => {
  const sink: OtlpSink = await startOtlpSink()
  owned.push(() => sink.close())
  const off: Array<TargetFigures> = []
  const on: Array<TargetFigures> = []
  /** gRPC calls the traced services answered (their own counter), to compare with the server spans the sink got. */
  let tracedCalls = 0
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? [false, true] : [true, false]
    for (const traced of order) {
      const service = await launchService(redisUrl, traced ? { OTEL_EXPORTER_OTLP_ENDPOINT: sink.url } : {})
      owned.push(() => stopChild(service))
      log(`-- tracing ${traced ? "on" : "off"} (round ${r + 1}/${rounds}): game on a fresh service`)
      const f = await measureService(service, redis, spec("game", `tr${r}${traced ? "n" : "f"}`))
      // balance_grpc_requests_total over methods and codes (the readiness probe's health checks included).
      if (traced) tracedCalls += sumSamples(await scrapeMetrics(service), "balance_grpc_requests_total")
      // SIGTERM: the service flushes the spans still queued before it exits.
      await stopChild(service)
      log(`   ${describe(f)}`)
      ;(traced ? on : off).push(f)
    }
  }
  const spans = sink.spans()
  log(`   the sink received ${spans.all} spans, ${spans.grpc} of them gRPC server spans, for ${tracedCalls} gRPC calls answered with tracing on`)
  const a = combine(off)
  const b = combine(on)
  const cpuRatio = ratio(b.cpuUsPerRpc, a.cpuUsPerRpc)
  return {
    tracing: {
      off: a,
      on: b,
      ratios: { cpuPerRpc: cpuRatio, rps: ratio(b.rps, a.rps), p99: ratio(b.latencyMs.p99, a.latencyMs.p99) },
      sink: { exports: sink.requests(), bytes: sink.bytes(), spans: spans.all, grpcServerSpans: spans.grpc, grpcCallsAnswered: tracedCalls }
    },
    targets: [
      { id: "tracing.cpuPerRpc", target: "tracing on <= 1.3x off", value: cpuRatio, met: cpuRatio !== null && cpuRatio <= 1.3 },
      { id: "tracing.exported", target: "spans reached the OTLP sink", value: sink.requests(), met: sink.requests() > 0 },
      {
        id: "tracing.complete",
        target: "a server span for every gRPC call (none dropped by the span processor)",
        value: `${spans.grpc} of ${tracedCalls}`,
        met: tracedCalls > 0 && spans.grpc >= tracedCalls
      }
    ]
  }
}

// ---------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------

const main = async () => {
  const startedAt = new Date().toISOString()
  ensureBuilt(log)
  const redisServer = await startRedis(join(work, "redis"))
  owned.push(() => stopRedis(redisServer))
  log(`redis-server pid ${redisServer.child.pid} on ${redisServer.url} (appendonly yes, appendfsync always), work dir ${work}; the service connects over ${transport}`)
  const redis = new Redis(redisServer.url)
  owned.push(async () => void redis.disconnect())
  // Redis' latency monitor from 1 ms: the benchmark reports the fsyncs that appendfsync always waits for.
  await redis.config("SET", "latency-monitor-threshold", "1")
  const redisVersion = /redis_version:(\S+)/.exec(await redis.info("server"))?.[1]
  const serviceUrl = serviceUrlOf(redisServer)
  if (flags.archive) {
    // As root the server runs as `postgres`, which must reach the cluster inside the work dir.
    chmodSync(work, 0o755)
    const pg = await spawnPostgresServerOnFreePort({ dir: join(work, "postgres", "data") })
    owned.push(() => stopPostgresServer(pg))
    historyDatabaseUrl = pg.url
    historyPostgresPid = pg.child.pid
    log(`postgres pid ${pg.child.pid} on ${pg.url} (the service archives to it: HISTORY_ARCHIVE=on)`)
  }
  const body = mode === "soak"
    ? await soak(serviceUrl, redis)
    : mode === "preload"
    ? await preload(serviceUrl, redis)
    : mode === "tracing"
    ? await tracing(serviceUrl, redis)
    : mode === "expiry"
    ? await expiry(serviceUrl)
    : await sideBySide(serviceUrl, redis, join(work, "redis"))

  const targets = body.targets as ReadonlyArray<Target>
  if (targets.length > 0 && !quick) {
    log("")
    log("targets:")
    for (const t of targets) log(`  ${t.met ? "MET   " : "MISSED"} ${t.id.padEnd(26)} ${String(t.value).padEnd(10)} (${t.target})`)
  }
  if (cpuProfDir) log(`CPU profiles in ${cpuProfDir}`)
  const json = {
    benchmark: "balance-service",
    mode,
    command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(" ")}` : ""}`,
    startedAt,
    machine: { cpus: cpus().length, node: process.version, redis: redisVersion },
    config: {
      tables,
      workers,
      rounds,
      warmupS,
      durationS: Object.fromEntries(workloads.map((w) => [w, durationOf(w)])),
      redis: "appendonly yes, appendfsync always, noeviction (the service's local Redis settings)",
      redisTransport: transport,
      store: flags["memory-store"] ? "memory (BALANCE_STORE=memory)" : "redis"
    },
    ...body,
    targets: quick ? [] : targets
  }
  console.log(JSON.stringify(json))
}

let exitCode = 0
try {
  await main()
} catch (e) {
  console.error(e instanceof Error ? e.stack : String(e))
  exitCode = 1
} finally {
  for (const stop of owned.reverse()) await stop().catch(() => {})
  if (flags.keep || exitCode !== 0) {
    // On failure the service logs (and its exit status) are the first thing to look at.
    for (const s of services) {
      console.error(`service pid ${s.pid} exit ${s.child.exitCode ?? s.child.signalCode}; last lines of ${s.logFile}:`)
      console.error(readFileSync(s.logFile, "utf8").split("\n").slice(-15).join("\n"))
    }
    console.error(`kept ${work}`)
  } else {
    rmSync(work, { recursive: true, force: true })
  }
}
process.exit(exitCode)

/**
 * One measured phase against one target: the load generator's figures plus
 * what the target process spent (CPU from /proc, RSS), and for the service
 * also Redis (commands it sent, Redis CPU) and its own metrics (handler
 * latency histogram, store calls, conflicts).
 */
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import type { Redis } from "ioredis"
import { type FsyncProbe, startFsyncProbe } from "./fsyncProbe.ts"
import { type ScriptProfile, type ScriptTime, startScriptProfile } from "./scriptProfile.ts"
import { type PhaseResult, runPhase } from "./loadGenerator.ts"
import { type Child, processTreeCpuSeconds, ROOT, scrapeMetrics, type Service } from "./processes.ts"
import {
  clientCommands,
  type CommandCounts,
  commandsCalledBy,
  diffCounts,
  fractionWithin,
  type Histogram,
  histogramDelta,
  histogramQuantileMs,
  mergeHistograms,
  parseCommandStats,
  parseHistograms,
  parseCommandUsec,
  parseRedisCpu,
  parseRedisCpuSplit,
  processCpu,
  processRssMb,
  round,
  samplesBy,
  sumSamples,
  type Summary
} from "./stats.ts"
import type { WorkloadName } from "./workloads.ts"

export interface PhaseSpec {
  readonly workload: WorkloadName
  readonly tag: string
  readonly tables: number
  readonly workers: number
  readonly warmupS: number
  readonly durationS: number
  /** Right when the window opens (after the start snapshots). */
  readonly onStart?: () => void
  readonly tickS?: number
  readonly onTick?: (elapsedS: number, completed: number, rssMb: number) => void
  /** Probe fsync latency in this directory (Redis' data dir) during the window: `redis.fsyncProbeMs`. */
  readonly fsyncProbeDir?: string
  /** Redis' execution time by script during the window (scriptProfile.ts): `redis.scriptProfile`. */
  readonly scriptProfile?: boolean
}

export interface TargetFigures {
  readonly target: "service" | "baseline"
  readonly workload: WorkloadName
  readonly seconds: number
  readonly rpcs: number
  readonly rps: number
  readonly latencyMs: PhaseResult["latency"]
  readonly latencyMsByMethod: PhaseResult["latencyByMethod"]
  readonly cpuUsPerRpc: number
  /** The kernel's share of cpuUsPerRpc (stime: syscalls, socket writes). */
  readonly cpuSystemUsPerRpc: number
  readonly cpuCores: number
  readonly rssMbStart: number
  readonly rssMbEnd: number
  readonly errors: number
  readonly errorsByMethod: Record<string, number>
  readonly refusals: Record<string, number>
  readonly errorSamples: ReadonlyArray<string>
  readonly generatorCpuUsPerRpc: number
  readonly redis?: {
    readonly roundTripsPerRpc: number
    readonly commandsSent: Record<string, number>
    readonly scriptInternalCalls: Record<string, number>
    readonly cpuUsPerRpc: number
    /**
     * Where that CPU went: user and system time per RPC, and per RPC the microseconds commandstats
     * books under each command (a script's own calls are booked under their names AND inside the
     * script's total, so `evalsha` includes the rest of its list). The remainder of user time is
     * the event loop, reading and parsing requests and writing replies.
     */
    readonly cpuProfileUsPerRpc: { readonly user: number; readonly sys: number; readonly byCommand: Record<string, number> }
    /** AOF growth per RPC (null when an AOF rewrite started, ran or finished during the window). */
    readonly aofBytesPerRpc: number | null
    /**
     * appendfsync always: Redis' own latency monitor (threshold 1 ms), the worst
     * fsync of each second of the window: how many seconds had one, median, max (ms).
     */
    readonly fsyncWorstPerSecondMs: { readonly seconds: number; readonly median: number; readonly max: number }
    /** Ledger commands applied per apply-script call to Redis (the group-commit batch size; 1 without it). */
    readonly commandsPerRedisCall: number | null
    /** fdatasync latency in Redis' data dir during the window (fsyncProbe.ts), with `fsyncProbeDir`. */
    readonly fsyncProbeMs?: { readonly count: number; readonly p50: number; readonly p99: number; readonly max: number }
    /** With `scriptProfile`: Redis' execution time per script (and per command called), per call and per RPC. */
    readonly scriptProfile?: Record<string, ScriptTime>
  }
  /** The archive's PostgreSQL, when the service archives to the bench's own. */
  readonly postgres?: { readonly cpuUsPerRpc: number }
  readonly server?: {
    readonly handlerP99Ms: number
    readonly handlerP99BucketLeMs: number
    readonly handlerWithin5msFraction: number
    readonly handlerP50Ms: number
    readonly handlerP99MsByMethod: Record<string, number>
    /** The apply round trip as the ledger times it (balance_store_call_duration_seconds). */
    readonly storeApplyP50Ms: number
    readonly storeApplyP99Ms: number
    readonly storeLoadsPerRpc: number
    readonly storeAppliesPerRpc: number
    readonly conflictRetries: number
    readonly commandOutcomes: Record<string, number>
  }
}

const phaseOf = (s: PhaseSpec) => ({
  workload: s.workload,
  tag: s.tag,
  tables: s.tables,
  workers: s.workers,
  warmupS: s.warmupS,
  durationS: s.durationS
})

/**
 * Commands any of the service's scripts calls (redis.call()): commandstats books those calls under
 * their own names, so they are not counted as round trips; every other command is one the client
 * sent. All scripts, not only the hot path's: the archiver's (events, trim, compact, retire) call
 * LRANGE, LTRIM, LINDEX once per entry or account, which would otherwise count as ~2 round trips
 * per RPC. A command the client also sends itself (HMGET, GET: reads) is not counted either: the
 * figure is script calls plus the commands no script calls (PING, CLIENT CACHING, ...).
 */
const scriptInternalNames = (): ReadonlySet<string> => {
  const names = new Set<string>()
  const dir = join(ROOT, "src/store/redis")
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".lua"))) {
    for (const n of commandsCalledBy(readFileSync(join(dir, file), "utf8"))) names.add(n)
  }
  return names
}

const r2 = (n: number) => round(n, 2)

const handlerStats = (before: string, after: string) => {
  const name = "balance_grpc_request_duration_seconds"
  const b = parseHistograms(before, name, "method")
  const a = parseHistograms(after, name, "method")
  const byMethod: Record<string, number> = {}
  const deltas: Array<Histogram> = []
  for (const [method, h] of a) {
    const d = histogramDelta(b.get(method), h)
    if (d.count === 0) continue
    deltas.push(d)
    byMethod[method] = histogramQuantileMs(d, 0.99).ms
  }
  const all = mergeHistograms(deltas)
  const p99 = histogramQuantileMs(all, 0.99)
  return {
    handlerP99Ms: p99.ms,
    handlerP99BucketLeMs: p99.bucketLeMs,
    handlerWithin5msFraction: round(fractionWithin(all, 0.005), 5),
    handlerP50Ms: histogramQuantileMs(all, 0.5).ms,
    handlerP99MsByMethod: byMethod
  }
}

const storeApply = (before: string, after: string) => {
  const name = "balance_store_call_duration_seconds"
  const a = parseHistograms(after, name, "operation").get("apply")
  if (!a) return { storeApplyP50Ms: 0, storeApplyP99Ms: 0 }
  const d = histogramDelta(parseHistograms(before, name, "operation").get("apply"), a)
  return { storeApplyP50Ms: histogramQuantileMs(d, 0.5).ms, storeApplyP99Ms: histogramQuantileMs(d, 0.99).ms }
}

/** Per-second worst aof-fsync-always latencies recorded since `sinceS` (LATENCY HISTORY keeps the last 160 s). */
const fsyncLatency = async (redis: Redis, sinceS: number) => {
  const history = (await redis.call("LATENCY", "HISTORY", "aof-fsync-always")) as Array<[number, number]>
  const worst = history.filter(([at]) => at >= sinceS).map(([, ms]) => ms).sort((a, b) => a - b)
  return { seconds: worst.length, median: worst[Math.floor(worst.length / 2)] ?? 0, max: worst.at(-1) ?? 0 }
}

const counterDelta = (before: string, after: string, name: string, where: Record<string, string> = {}) =>
  sumSamples(after, name, where) - sumSamples(before, name, where)

/**
 * Plans per apply.lua call (group commit, src/store/redis/applyBatcher.ts): the store's histogram
 * balance_store_apply_batch_size counts one observation per Redis call (_count) of that many
 * plans (_sum). A service without it (an older build) gives applies per EVALSHA that was not a load.
 */
const commandsPerRedisCall = (before: string, after: string, sent: Readonly<Record<string, number>>): number | null => {
  const calls = counterDelta(before, after, "balance_store_apply_batch_size_count")
  if (calls > 0) return round(counterDelta(before, after, "balance_store_apply_batch_size_sum") / calls, 2)
  const applies = counterDelta(before, after, "balance_store_call_duration_seconds_count", { operation: "apply" })
  const scriptCalls = (sent["evalsha"] ?? 0) + (sent["eval"] ?? 0) -
    counterDelta(before, after, "balance_store_call_duration_seconds_count", { operation: "load" })
  return applies === 0 || scriptCalls <= 0 ? null : round(applies / scriptCalls, 2)
}

const outcomesDelta = (before: string, after: string) => {
  const out: Record<string, number> = {}
  const b = samplesBy(before, "balance_ledger_commands_total", "outcome")
  for (const [k, v] of Object.entries(samplesBy(after, "balance_ledger_commands_total", "outcome"))) {
    const d = v - (b[k] ?? 0)
    if (d !== 0) out[k] = d
  }
  return out
}

interface CpuDelta {
  readonly user: number
  readonly system: number
}

const cpuDelta = (a: CpuDelta, b: CpuDelta): CpuDelta => ({ user: b.user - a.user, system: b.system - a.system })

const common = (target: "service" | "baseline", phase: PhaseResult, cpu: CpuDelta, rss: readonly [number, number]) => ({
  target,
  workload: phase.workload,
  seconds: r2(phase.seconds),
  rpcs: phase.rpcs,
  rps: Math.round(phase.rps),
  latencyMs: phase.latency,
  latencyMsByMethod: phase.latencyByMethod,
  cpuUsPerRpc: phase.rpcs === 0 ? 0 : Math.round(((cpu.user + cpu.system) / phase.rpcs) * 1e6),
  cpuSystemUsPerRpc: phase.rpcs === 0 ? 0 : Math.round((cpu.system / phase.rpcs) * 1e6),
  cpuCores: r2((cpu.user + cpu.system) / phase.seconds),
  rssMbStart: rss[0],
  rssMbEnd: rss[1],
  errors: phase.errors,
  errorsByMethod: phase.errorsByMethod,
  refusals: phase.refusals,
  errorSamples: phase.errorSamples,
  generatorCpuUsPerRpc: phase.rpcs === 0 ? 0 : Math.round((phase.generatorCpuS / phase.rpcs) * 1e6)
})

export const measureBaseline = async (baseline: Child & { readonly grpcAddress: string }, spec: PhaseSpec): Promise<TargetFigures> => {
  let cpu0: CpuDelta = { user: 0, system: 0 }
  let cpu1: CpuDelta = { user: 0, system: 0 }
  let rss0 = 0
  let rss1 = 0
  const phase = await runPhase({
    ...phaseOf(spec),
    address: baseline.grpcAddress,
    atStart: () => {
      cpu0 = processCpu(baseline.pid)
      rss0 = processRssMb(baseline.pid)
    },
    atEnd: () => {
      cpu1 = processCpu(baseline.pid)
      rss1 = processRssMb(baseline.pid)
    }
  })
  return common("baseline", phase, cpuDelta(cpu0, cpu1), [rss0, rss1])
}

export const measureService = async (service: Service, redis: Redis, spec: PhaseSpec): Promise<TargetFigures> => {
  const internal = scriptInternalNames()
  let metrics0 = ""
  let metrics1 = ""
  let stats0: CommandCounts = {}
  let stats1: CommandCounts = {}
  let redisCpu0 = 0
  let redisCpu1 = 0
  let redisSplit0 = { user: 0, sys: 0 }
  let redisSplit1 = { user: 0, sys: 0 }
  let usec0: CommandCounts = {}
  let usec1: CommandCounts = {}
  let windowStartS = 0
  let aof0 = { size: 0, rewrites: "" }
  let aof1 = { size: 0, rewrites: "" }
  let cpu0: CpuDelta = { user: 0, system: 0 }
  let cpu1: CpuDelta = { user: 0, system: 0 }
  let rss0 = 0
  let rss1 = 0
  let postgresCpu0 = 0
  let postgresCpu1 = 0
  let probe: FsyncProbe | undefined
  let fsyncProbe: Summary | undefined
  let scriptProfile: ScriptProfile | undefined
  const info = async () => {
    // One INFO per snapshot (7.0 takes several sections), so exactly one of ours lands in each window.
    const text = await redis.info("commandstats", "cpu", "persistence")
    const field = (name: string) => Number(new RegExp(`^${name}:(\\d+)`, "m").exec(text)?.[1] ?? "0")
    return {
      counts: parseCommandStats(text),
      cpu: parseRedisCpu(text),
      split: parseRedisCpuSplit(text),
      usec: parseCommandUsec(text),
      aof: field("aof_current_size"),
      // Any rewrite activity (started, running, finished) makes the size delta meaningless.
      rewrites: `${field("aof_rewrites")}/${field("aof_rewrite_in_progress")}/${field("aof_base_size")}`
    }
  }
  const phase = await runPhase({
    ...phaseOf(spec),
    address: service.grpcAddress,
    // Scrapes cost the service CPU and Redis calls: the first is taken before the window opens, the last after it closes.
    atStart: async () => {
      metrics0 = await scrapeMetrics(service)
      const i = await info()
      stats0 = i.counts
      redisCpu0 = i.cpu
      redisSplit0 = i.split
      usec0 = i.usec
      aof0 = { size: i.aof, rewrites: i.rewrites }
      windowStartS = Math.floor(Date.now() / 1000)
      rss0 = processRssMb(service.pid)
      cpu0 = processCpu(service.pid)
      if (service.postgresPid !== undefined) postgresCpu0 = processTreeCpuSeconds(service.postgresPid)
      if (spec.fsyncProbeDir !== undefined) probe = await startFsyncProbe(spec.fsyncProbeDir)
      if (spec.scriptProfile) scriptProfile = await startScriptProfile(redis)
      spec.onStart?.()
    },
    atEnd: async () => {
      cpu1 = processCpu(service.pid)
      if (service.postgresPid !== undefined) postgresCpu1 = processTreeCpuSeconds(service.postgresPid)
      rss1 = processRssMb(service.pid)
      fsyncProbe = await probe?.stop()
      const i = await info()
      stats1 = i.counts
      redisCpu1 = i.cpu
      redisSplit1 = i.split
      usec1 = i.usec
      aof1 = { size: i.aof, rewrites: i.rewrites }
      metrics1 = await scrapeMetrics(service)
    },
    ...(spec.tickS && spec.onTick
      ? { tickS: spec.tickS, onTick: (s: number, completed: number) => spec.onTick!(s, completed, processRssMb(service.pid)) }
      : {})
  })
  const fsync = await fsyncLatency(redis, windowStartS)
  const byScript = await scriptProfile?.stop(phase.rpcs)
  // LATENCY HISTORY is one of ours too, after the last snapshot: not in the window.
  const sent = clientCommands(diffCounts(stats0, stats1), internal, 1)
  const per = (n: number) => (phase.rpcs === 0 ? 0 : n / phase.rpcs)
  return {
    ...common("service", phase, cpuDelta(cpu0, cpu1), [rss0, rss1]),
    redis: {
      roundTripsPerRpc: round(per(sent.total), 3),
      commandsSent: sent.byCommand,
      scriptInternalCalls: sent.scriptInternal,
      cpuUsPerRpc: Math.round(per(redisCpu1 - redisCpu0) * 1e6),
      cpuProfileUsPerRpc: {
        user: Math.round(per(redisSplit1.user - redisSplit0.user) * 1e6),
        sys: Math.round(per(redisSplit1.sys - redisSplit0.sys) * 1e6),
        byCommand: Object.fromEntries(
          Object.entries(diffCounts(usec0, usec1))
            .map(([name, us]) => [name, round(per(us), 1)] as const)
            .filter(([, us]) => us >= 0.1)
            .sort((a, b) => b[1] - a[1])
        )
      },
      aofBytesPerRpc: aof1.rewrites === aof0.rewrites && !aof0.rewrites.includes("/1/") ? Math.round(per(aof1.size - aof0.size)) : null,
      fsyncWorstPerSecondMs: fsync,
      commandsPerRedisCall: commandsPerRedisCall(metrics0, metrics1, sent.byCommand),
      ...(byScript ? { scriptProfile: byScript } : {}),
      ...(fsyncProbe ? { fsyncProbeMs: { count: fsyncProbe.count, p50: r2(fsyncProbe.p50), p99: r2(fsyncProbe.p99), max: r2(fsyncProbe.max) } } : {})
    },
    // The archive's PostgreSQL (its postmaster's process tree): on a small machine it takes CPU
    // the service and Redis would otherwise have.
    ...(service.postgresPid === undefined ? {} : { postgres: { cpuUsPerRpc: Math.round(per(postgresCpu1 - postgresCpu0) * 1e6) } }),
    server: {
      ...handlerStats(metrics0, metrics1),
      ...storeApply(metrics0, metrics1),
      storeLoadsPerRpc: round(per(counterDelta(metrics0, metrics1, "balance_store_call_duration_seconds_count", { operation: "load" })), 3),
      storeAppliesPerRpc: round(per(counterDelta(metrics0, metrics1, "balance_store_call_duration_seconds_count", { operation: "apply" })), 3),
      conflictRetries: counterDelta(metrics0, metrics1, "balance_ledger_conflict_retries_total"),
      commandOutcomes: outcomesDelta(metrics0, metrics1)
    }
  }
}

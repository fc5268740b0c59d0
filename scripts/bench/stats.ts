/**
 * Measurement helpers of the benchmark: latency percentiles, process CPU and
 * RSS from /proc, Redis command counts from INFO commandstats, and the
 * service's own handler-latency histogram from its /metrics text.
 */
import { readFileSync } from "node:fs"
import { execFileSync } from "node:child_process"

// ---------------------------------------------------------------------------
// Latencies (client-observed, milliseconds)
// ---------------------------------------------------------------------------

/** A growable list of samples; worker threads send the underlying buffer to the main thread. */
export class Samples {
  private data = new Float64Array(4096)
  private n = 0

  push(value: number): void {
    if (this.n === this.data.length) {
      const bigger = new Float64Array(this.data.length * 2)
      bigger.set(this.data)
      this.data = bigger
    }
    this.data[this.n++] = value
  }

  get length(): number {
    return this.n
  }

  /** A trimmed copy, safe to transfer. */
  toArray(): Float64Array {
    return this.data.slice(0, this.n)
  }
}

export interface Summary {
  readonly count: number
  readonly p50: number
  readonly p90: number
  readonly p99: number
  readonly max: number
}

const round = (n: number, digits = 2) => {
  const f = 10 ** digits
  return Math.round(n * f) / f
}

/** Nearest-rank percentiles of the merged samples. */
export const summarize = (parts: ReadonlyArray<Float64Array>): Summary => {
  const total = parts.reduce((n, p) => n + p.length, 0)
  const all = new Float64Array(total)
  let at = 0
  for (const p of parts) {
    all.set(p, at)
    at += p.length
  }
  all.sort()
  const rank = (q: number) => (total === 0 ? 0 : all[Math.min(total - 1, Math.max(0, Math.ceil(q * total) - 1))]!)
  return {
    count: total,
    p50: round(rank(0.5)),
    p90: round(rank(0.9)),
    p99: round(rank(0.99)),
    max: round(total === 0 ? 0 : all[total - 1]!)
  }
}

// ---------------------------------------------------------------------------
// A process's own CPU accounting and memory (Linux /proc)
// ---------------------------------------------------------------------------

let clockTicks: number | undefined
const ticksPerSecond = (): number => {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100
    } catch {
      clockTicks = 100
    }
  }
  return clockTicks
}

/** utime and stime of one process (its threads included, children not), in seconds. */
export const processCpu = (pid: number): { readonly user: number; readonly system: number } => {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
  // The command name (field 2) may contain spaces; fields after the closing paren are fixed.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  return { user: Number(fields[11]) / ticksPerSecond(), system: Number(fields[12]) / ticksPerSecond() }
}

/** utime + stime of one process, in seconds. */
export const processCpuSeconds = (pid: number): number => {
  const { user, system } = processCpu(pid)
  return user + system
}

/** Resident set size in MB (VmRSS). */
export const processRssMb = (pid: number): number => {
  const status = readFileSync(`/proc/${pid}/status`, "utf8")
  const kb = Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1] ?? "0")
  return round(kb / 1024, 1)
}

// ---------------------------------------------------------------------------
// Redis: commands the service sent (INFO commandstats)
// ---------------------------------------------------------------------------

export type CommandCounts = Readonly<Record<string, number>>

/** `cmdstat_evalsha:calls=12,usec=...` lines -> { evalsha: 12, ... } */
export const parseCommandStats = (info: string): CommandCounts => {
  const counts: Record<string, number> = {}
  for (const line of info.split(/\r?\n/)) {
    const m = /^cmdstat_([^:]+):calls=(\d+)/.exec(line)
    if (m) counts[m[1]!.toLowerCase()] = Number(m[2])
  }
  return counts
}

export const diffCounts = (before: CommandCounts, after: CommandCounts): Record<string, number> => {
  const out: Record<string, number> = {}
  for (const [name, n] of Object.entries(after)) {
    const d = n - (before[name] ?? 0)
    if (d !== 0) out[name] = d
  }
  return out
}

/** Commands that carry a whole script: one round trip each, however many calls the script makes inside. */
const SCRIPT_CALLS = new Set(["eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro"])

/**
 * Commands the client sent, from commandstats deltas. Redis also counts every
 * redis.call() a script makes under that command's own name, so those names
 * (read from the scripts on the hot path, `internalNames`) are left out; every
 * other command counts, script invocations count once each. `ownInfoCalls`
 * are the benchmark's own INFO requests, which are not the service's.
 */
export const clientCommands = (
  delta: Readonly<Record<string, number>>,
  internalNames: ReadonlySet<string>,
  ownInfoCalls: number
): { readonly total: number; readonly byCommand: Record<string, number>; readonly scriptInternal: Record<string, number> } => {
  const byCommand: Record<string, number> = {}
  const scriptInternal: Record<string, number> = {}
  let total = 0
  for (const [name, n] of Object.entries(delta)) {
    const base = name.split("|")[0]!
    if (!SCRIPT_CALLS.has(base) && internalNames.has(base)) {
      scriptInternal[name] = n
      continue
    }
    const count = base === "info" ? n - ownInfoCalls : n
    if (count <= 0) continue
    byCommand[name] = count
    total += count
  }
  return { total, byCommand, scriptInternal }
}

/** Names of the commands a Lua script calls (`redis.call("HGET", ...)`), lower case. */
export const commandsCalledBy = (lua: string): Set<string> => {
  const names = new Set<string>()
  for (const m of lua.matchAll(/redis\.p?call\(\s*["']([A-Za-z]+)["']/g)) names.add(m[1]!.toLowerCase())
  return names
}

/** `cmdstat_evalsha:calls=12,usec=340,...` lines -> { evalsha: 340, ... }: microseconds Redis spent in each command. */
export const parseCommandUsec = (info: string): CommandCounts => {
  const usec: Record<string, number> = {}
  for (const line of info.split(/\r?\n/)) {
    const m = /^cmdstat_([^:]+):calls=\d+,usec=(\d+)/.exec(line)
    if (m) usec[m[1]!.toLowerCase()] = Number(m[2])
  }
  return usec
}

/** used_cpu_user and used_cpu_sys of the Redis server (INFO cpu), seconds. */
export const parseRedisCpuSplit = (info: string): { readonly user: number; readonly sys: number } => {
  const field = (name: string) => Number(new RegExp(`^${name}:([0-9.]+)`, "m").exec(info)?.[1] ?? "0")
  return { user: field("used_cpu_user"), sys: field("used_cpu_sys") }
}

/** used_cpu_sys + used_cpu_user of the Redis server (INFO cpu), seconds. */
export const parseRedisCpu = (info: string): number => {
  const field = (name: string) => Number(new RegExp(`^${name}:([0-9.]+)`, "m").exec(info)?.[1] ?? "0")
  return field("used_cpu_sys") + field("used_cpu_user")
}

// ---------------------------------------------------------------------------
// The service's Prometheus text
// ---------------------------------------------------------------------------

export interface Histogram {
  /** Upper bounds (seconds) -> cumulative counts, ascending; +Inf last. */
  readonly buckets: ReadonlyArray<readonly [number, number]>
  readonly count: number
}

const labelsOf = (s: string): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const m of s.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) out[m[1]!] = m[2]!
  return out
}

/** Histogram `name` per value of label `by` (e.g. method). */
export const parseHistograms = (text: string, name: string, by: string): Map<string, Histogram> => {
  const raw = new Map<string, Array<[number, number]>>()
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}_bucket{`)) continue
    const close = line.lastIndexOf("}")
    const labels = labelsOf(line.slice(line.indexOf("{") + 1, close))
    const value = Number(line.slice(close + 1).trim())
    const le = labels.le === "+Inf" ? Number.POSITIVE_INFINITY : Number(labels.le)
    const key = labels[by] ?? ""
    const list = raw.get(key) ?? []
    list.push([le, value])
    raw.set(key, list)
  }
  const out = new Map<string, Histogram>()
  for (const [key, list] of raw) {
    list.sort((a, b) => a[0] - b[0])
    out.set(key, { buckets: list, count: list.at(-1)?.[1] ?? 0 })
  }
  return out
}

/** Sum of a counter/gauge family's samples whose labels match `where`. */
export const sumSamples = (text: string, name: string, where: Readonly<Record<string, string>> = {}): number => {
  let total = 0
  for (const line of text.split("\n")) {
    if (!line.startsWith(name)) continue
    const rest = line.slice(name.length)
    if (!(rest.startsWith("{") || rest.startsWith(" "))) continue
    const close = rest.indexOf("}")
    const labels = rest.startsWith("{") ? labelsOf(rest.slice(1, close)) : {}
    if (Object.entries(where).some(([k, v]) => labels[k] !== v)) continue
    total += Number(rest.slice(close + 1).trim())
  }
  return total
}

/** Samples of a counter family by one label. */
export const samplesBy = (text: string, name: string, by: string): Record<string, number> => {
  const out: Record<string, number> = {}
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`)) continue
    const close = line.lastIndexOf("}")
    const labels = labelsOf(line.slice(name.length + 1, close))
    const key = labels[by] ?? ""
    out[key] = (out[key] ?? 0) + Number(line.slice(close + 1).trim())
  }
  return out
}

export const histogramDelta = (before: Histogram | undefined, after: Histogram): Histogram => {
  const prior = new Map(before?.buckets ?? [])
  return {
    buckets: after.buckets.map(([le, n]) => [le, n - (prior.get(le) ?? 0)] as const),
    count: after.count - (before?.count ?? 0)
  }
}

export const mergeHistograms = (list: ReadonlyArray<Histogram>): Histogram => {
  const sums = new Map<number, number>()
  for (const h of list) for (const [le, n] of h.buckets) sums.set(le, (sums.get(le) ?? 0) + n)
  const buckets = [...sums].sort((a, b) => a[0] - b[0])
  return { buckets, count: list.reduce((n, h) => n + h.count, 0) }
}

/**
 * Quantile of a cumulative histogram in milliseconds, interpolated linearly
 * inside the bucket it falls in (as Prometheus' histogram_quantile does);
 * also the bucket's upper bound, which is what a "≤ 5 ms" check can rely on.
 */
export const histogramQuantileMs = (h: Histogram, q: number): { readonly ms: number; readonly bucketLeMs: number } => {
  if (h.count === 0) return { ms: 0, bucketLeMs: 0 }
  const rank = q * h.count
  let lowerBound = 0
  let lowerCount = 0
  for (const [le, cumulative] of h.buckets) {
    if (cumulative >= rank) {
      if (!Number.isFinite(le)) return { ms: round(lowerBound * 1000, 3), bucketLeMs: Number.POSITIVE_INFINITY }
      const inBucket = cumulative - lowerCount
      const fraction = inBucket === 0 ? 1 : (rank - lowerCount) / inBucket
      return { ms: round((lowerBound + (le - lowerBound) * fraction) * 1000, 3), bucketLeMs: le * 1000 }
    }
    lowerBound = le
    lowerCount = cumulative
  }
  return { ms: round(lowerBound * 1000, 3), bucketLeMs: Number.POSITIVE_INFINITY }
}

/** Fraction of observations at or below `seconds` (a bucket bound). */
export const fractionWithin = (h: Histogram, seconds: number): number => {
  if (h.count === 0) return 1
  const bucket = h.buckets.find(([le]) => Math.abs(le - seconds) < 1e-12)
  return bucket ? bucket[1] / h.count : Number.NaN
}

export { round }

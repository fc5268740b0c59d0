/**
 * Main-thread side of the load generator: spreads the tables over worker
 * threads, waits until every worker has created its wallets, runs the
 * warm-up, then the measured window, and merges what the workers recorded.
 */
import { Worker } from "node:worker_threads"
import { summarize, type Summary } from "./stats.ts"
import type { WorkerInput, WorkerResult } from "./worker.ts"
import type { WorkloadName } from "./workloads.ts"

export interface PhaseOptions {
  readonly address: string
  readonly workload: WorkloadName
  /** Names this phase's tables and wallets; unique per phase so phases never share state. */
  readonly tag: string
  readonly tables: number
  readonly workers: number
  readonly warmupS: number
  readonly durationS: number
  /** Called right before recording starts and right after it stops (CPU, Redis, metrics snapshots). */
  readonly atStart: () => Promise<void> | void
  readonly atEnd: () => Promise<void> | void
  /** During the window, every `tickS` seconds (soak: RSS and throughput over time). */
  readonly tickS?: number
  readonly onTick?: (elapsedS: number, completed: number) => Promise<void> | void
}

export interface PhaseResult {
  readonly workload: WorkloadName
  readonly seconds: number
  readonly rpcs: number
  readonly rps: number
  readonly latency: Summary
  readonly latencyByMethod: Record<string, Summary>
  readonly callsByMethod: Record<string, number>
  readonly errors: number
  readonly errorsByMethod: Record<string, number>
  readonly refusals: Record<string, number>
  readonly errorSamples: ReadonlyArray<string>
  readonly loopRestarts: number
  /** CPU of the benchmark process itself (all its threads) during the window, seconds. */
  readonly generatorCpuS: number
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)))

type FromWorker = { type: "ready" } | { type: "failed"; reason: string } | { type: "snapshot"; completed: number } | WorkerResult

export const runPhase = async (o: PhaseOptions): Promise<PhaseResult> => {
  const n = Math.max(1, Math.min(o.workers, o.tables))
  const workers: Array<Worker> = []
  const ready: Array<Promise<void>> = []
  const done: Array<Promise<WorkerResult>> = []
  const snapshotWaiters: Array<Array<(completed: number) => void>> = []
  for (let w = 0; w < n; w++) {
    const input: WorkerInput = {
      address: o.address,
      workload: o.workload,
      tag: o.tag,
      workerIndex: w,
      tables: Array.from({ length: o.tables }, (_, t) => t).filter((t) => t % n === w),
      deadlineMs: 10_000
    }
    const worker = new Worker(new URL("./worker.ts", import.meta.url), { workerData: input })
    workers.push(worker)
    const waiters: Array<(completed: number) => void> = []
    snapshotWaiters.push(waiters)
    let readyResolve!: () => void
    let readyReject!: (e: Error) => void
    ready.push(new Promise<void>((resolve, reject) => {
      readyResolve = resolve
      readyReject = reject
    }))
    done.push(new Promise<WorkerResult>((resolve, reject) => {
      worker.on("message", (m: FromWorker) => {
        if (m.type === "ready") readyResolve()
        else if (m.type === "failed") readyReject(new Error(`worker ${w}: ${m.reason}`))
        else if (m.type === "snapshot") waiters.shift()?.(m.completed)
        else if (m.type === "done") resolve(m)
      })
      worker.on("error", (e) => {
        readyReject(e)
        reject(e)
      })
    }))
  }
  try {
    await Promise.all(ready)
    for (const w of workers) w.postMessage("go")
    await sleep(o.warmupS * 1000)
    await o.atStart()
    const cpuBefore = process.cpuUsage()
    const started = performance.now()
    for (const w of workers) w.postMessage("measure")
    if (o.tickS && o.onTick) {
      const ticks = Math.floor(o.durationS / o.tickS)
      for (let i = 1; i <= ticks; i++) {
        await sleep(started + i * o.tickS * 1000 - performance.now())
        const counts = await Promise.all(workers.map((w, k) =>
          new Promise<number>((resolve) => {
            snapshotWaiters[k]!.push(resolve)
            w.postMessage("snapshot")
          })))
        await o.onTick((performance.now() - started) / 1000, counts.reduce((a, b) => a + b, 0))
      }
    }
    await sleep(started + o.durationS * 1000 - performance.now())
    for (const w of workers) w.postMessage("stop")
    const seconds = (performance.now() - started) / 1000
    const cpu = process.cpuUsage(cpuBefore)
    await o.atEnd()
    const results = await Promise.all(done)

    const byMethod = new Map<string, Array<Float64Array>>()
    const errorsByMethod: Record<string, number> = {}
    const refusals: Record<string, number> = {}
    const errorSamples: Array<string> = []
    let loopRestarts = 0
    for (const r of results) {
      for (const [method, s] of Object.entries(r.samples)) byMethod.set(method, [...(byMethod.get(method) ?? []), s])
      for (const [method, k] of Object.entries(r.errors)) errorsByMethod[method] = (errorsByMethod[method] ?? 0) + k
      for (const [code, k] of Object.entries(r.refusals)) refusals[code] = (refusals[code] ?? 0) + k
      errorSamples.push(...r.errorSamples)
      loopRestarts += r.restarts
    }
    const latencyByMethod: Record<string, Summary> = {}
    const callsByMethod: Record<string, number> = {}
    for (const [method, parts] of [...byMethod].sort(([a], [b]) => a.localeCompare(b))) {
      latencyByMethod[method] = summarize(parts)
      callsByMethod[method] = latencyByMethod[method].count
    }
    const latency = summarize([...byMethod.values()].flat())
    return {
      workload: o.workload,
      seconds,
      rpcs: latency.count,
      rps: latency.count / seconds,
      latency,
      latencyByMethod,
      callsByMethod,
      errors: Object.values(errorsByMethod).reduce((a, b) => a + b, 0),
      errorsByMethod,
      refusals,
      errorSamples: errorSamples.slice(0, 10),
      loopRestarts,
      generatorCpuS: (cpu.user + cpu.system) / 1e6
    }
  } finally {
    await Promise.all(workers.map((w) => w.terminate()))
  }
}

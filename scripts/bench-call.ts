/**
 * GetBalance through the service's own call path, in process and without the network: the gRPC
 * call runner (auth, span, log annotations, metrics, completion line) -> request decoding ->
 * Ledger.wallet -> the store -> response encoding, called as grpc-js calls a unary handler and
 * forked as GrpcServer forks it (FiberSet.makeRuntime, the service's JSON logger at LOG_LEVEL).
 * CPU µs per call of this process: what a GetBalance costs the service beyond gRPC's own work.
 *
 *   node scripts/bench-call.ts [--calls 200000] [--concurrency 32] [--rounds 5] [--store memory|redis] [--log-level Warn]
 *   node --cpu-prof --cpu-prof-dir .bench/prof scripts/bench-call.ts --rounds 1   a profile of the call path alone
 *
 * `--store redis`: RedisStore with the read cache (READ_CACHE=on, CLIENT TRACKING) on a private
 * redis-server, so every call pays the cache's barrier as the service does (one PING per batch).
 * `--tracing`: an OpenTelemetry tracer with a span processor that drops every span (the SDK's
 * cost, not an exporter's). Prints one line per round, then one JSON line.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { parseArgs } from "node:util"
import { NoopSpanProcessor } from "@opentelemetry/sdk-trace-base"
import { Effect, Exit, FiberSet, Layer, Logger, LogLevel, ManagedRuntime, References, Scope } from "effect"
import { makeBalanceHandlers } from "../src/api/grpc/balanceHandlers.ts"
import { makeAuthorizer } from "../src/api/grpc/callAuth.ts"
import { makeCallRunner } from "../src/api/grpc/callRunner.ts"
import { authSettingsWith } from "../src/api/http/auth/AuthSettings.ts"
import { CommandExecutor } from "../src/degradation/CommandExecutor.ts"
import { Ledger } from "../src/ledger/Ledger.ts"
import { LedgerSettings } from "../src/ledger/LedgerSettings.ts"
import { jsonLogger } from "../src/observability/Logging.ts"
import { grpcCallObserver, Metrics } from "../src/observability/Metrics.ts"
import { tracingLayerWith } from "../src/observability/Tracing.ts"
import { MemoryStore } from "../src/store/memory/MemoryStore.ts"
import { RedisStore } from "../src/store/redis/RedisStore.ts"
import { spawnRedisServerOnFreePort, stopRedisServer } from "../src/store/redis/redisServerProcess.ts"
import { BENCH_ADMIN_KEY, benchMetadata } from "./bench/proto.ts"
import { round } from "./bench/stats.ts"
import { BALANCE_ACCOUNTS_PER_LOOP, INITIAL_BALANCE } from "./bench/workloads.ts"

const { values: flags } = parseArgs({
  options: {
    calls: { type: "string", default: "200000" },
    concurrency: { type: "string", default: "32" },
    rounds: { type: "string", default: "5" },
    store: { type: "string", default: "memory" },
    "log-level": { type: "string", default: "Warn" },
    tracing: { type: "boolean", default: false }
  },
  strict: true
})
const CALLS = Number(flags.calls)
const CONCURRENCY = Number(flags.concurrency)
const ROUNDS = Number(flags.rounds)
if (flags.store !== "memory" && flags.store !== "redis") throw new Error("--store is memory or redis")
const logLevel = LogLevel.values.find((l) => l === flags["log-level"])
if (logLevel === undefined) throw new Error(`--log-level: one of ${LogLevel.values.join(", ")}`)

const redisDir = flags.store === "redis" ? mkdtempSync(join(tmpdir(), "balance-bench-call-")) : undefined
const redisServer = redisDir === undefined ? undefined : await spawnRedisServerOnFreePort({ dir: redisDir })
const storeLayer = redisServer === undefined
  ? MemoryStore.layer
  : RedisStore.layer({ url: redisServer.socketUrl ?? redisServer.url, readCache: true, keyPrefix: "bench:" })

const layer = CommandExecutor.layerWithoutQueue.pipe(
  Layer.provideMerge(Ledger.layer),
  Layer.provideMerge(storeLayer),
  Layer.provideMerge(LedgerSettings.layerWith()),
  Layer.provideMerge(Metrics.layer),
  Layer.provideMerge(Layer.mergeAll(
    Logger.layer([jsonLogger]),
    Layer.succeed(References.MinimumLogLevel, logLevel),
    flags.tracing ? tracingLayerWith(new NoopSpanProcessor()) : Layer.empty
  ))
)
const runtime = ManagedRuntime.make(layer)
const serverScope = Scope.makeUnsafe()

const accounts = Array.from({ length: CONCURRENCY * BALANCE_ACCOUNTS_PER_LOOP }, (_, i) => `bench-call-${i}`)

try {
  const ledger = await runtime.runPromise(Ledger.use(Effect.succeed))
  for (const accountId of accounts) {
    await runtime.runPromise(ledger.execute({ op: "EnsureAccount", accountId, initialBalance: INITIAL_BALANCE }))
  }
  // As GrpcServer: handlers built once, every call forked into a FiberSet runtime, the JSON logger installed.
  const unary = await runtime.runPromise(Scope.provide(serverScope)(Effect.gen(function*() {
    const handlers = yield* makeBalanceHandlers
    const metrics = yield* Metrics
    const run = yield* FiberSet.makeRuntime<never, void, never>()
    const runner = makeCallRunner({
      run,
      runStream: run,
      authorize: makeAuthorizer({ gameToken: undefined, admin: authSettingsWith({ adminApiKey: BENCH_ADMIN_KEY }) }),
      observe: grpcCallObserver(metrics),
      accessLog: false
    })
    const m = handlers.GetBalance
    return runner.unary("balance.BalanceService", "GetBalance", m.handle, m.mode, m.access)
  })))

  /** Calls answered before the handler returned: on the memory store the whole path should stay synchronous. */
  let syncAnswers = 0
  let answered = 0
  const getBalance = (accountId: string) =>
    new Promise<void>((resolve, reject) => {
      const call = { request: { accountId }, metadata: benchMetadata("GetBalance"), cancelled: false, on: () => call }
      let sync = true
      unary(call as never, (error: unknown, response?: unknown) => {
        answered += 1
        if (sync) syncAnswers += 1
        if (error) reject(new Error(`GetBalance: ${JSON.stringify(error)}`))
        else if ((response as { accountId?: string }).accountId !== accountId) reject(new Error(`GetBalance answered ${JSON.stringify(response)}`))
        else resolve()
      })
      sync = false
    })

  const play = async (calls: number) => {
    let done = 0
    const loop = async (l: number) => {
      for (let i = 0; done < calls; i++) {
        done += 1
        await getBalance(accounts[l * BALANCE_ACCOUNTS_PER_LOOP + (i % BALANCE_ACCOUNTS_PER_LOOP)]!)
      }
    }
    const cpu = process.cpuUsage()
    const started = performance.now()
    await Promise.all(Array.from({ length: CONCURRENCY }, (_, l) => loop(l)))
    const used = process.cpuUsage(cpu)
    const seconds = (performance.now() - started) / 1000
    return { calls: done, callsPerSecond: Math.round(done / seconds), cpuUsPerCall: round((used.user + used.system) / done, 2) }
  }

  await play(Math.min(CALLS, 20_000)) // JIT warm-up of the same path
  const runs = []
  for (let r = 0; r < ROUNDS; r++) {
    const run = await play(CALLS)
    console.log(`round ${r + 1}: ${run.callsPerSecond} calls/s, ${run.cpuUsPerCall} CPU µs per call`)
    runs.push(run)
  }
  console.log(`${syncAnswers} of ${answered} calls answered synchronously`)
  const cpus = runs.map((x) => x.cpuUsPerCall).sort((a, b) => a - b)
  console.log(JSON.stringify({
    benchmark: "balance-service GetBalance call path",
    command: `node scripts/bench-call.ts${process.argv.length > 2 ? ` ${process.argv.slice(2).join(" ")}` : ""}`,
    store: flags.store,
    tracing: flags.tracing,
    synchronousAnswers: round(syncAnswers / answered, 3),
    cpuUsPerCallMin: cpus[0],
    cpuUsPerCallMedian: cpus[Math.floor(cpus.length / 2)],
    runs
  }))
} finally {
  await runtime.runPromise(Scope.close(serverScope, Exit.void))
  await runtime.dispose()
  if (redisServer) await stopRedisServer(redisServer)
  if (redisDir) rmSync(redisDir, { recursive: true, force: true })
}

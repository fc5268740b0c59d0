/**
 * `npm run bench:store`: where a game call's time goes, below gRPC.
 *
 *  1. apply.lua alone: the apply requests of a recorded game (same mix as
 *     `npm run bench -- --workload game`), replayed by EVALSHA on one
 *     connection with `--concurrency` calls in flight (as the service sends
 *     them), against a trivial one-call Lua script touching two keys on the
 *     same Redis; ops/s and the ratio. Redis runs with the service's
 *     persistence (AOF appendfsync always); `--fsync everysec` shows what
 *     the fsync costs.
 *     The same applies again (on keys of their own) in apply.lua calls of
 *     `--batch` plans each, as the service's group commit sends them
 *     (applyBatcher.ts), with as many plans in flight: figures per plan.
 *     The stream as the service writes it by default (HISTORY_ARCHIVE=on):
 *     uncapped, the transfer lists holding references "<event id>#<position>"
 *     into it (`--stream refs`); `--stream full` keeps it uncapped with the
 *     lists in full (TRANSFER_LISTS=full), `--stream capped` caps it at
 *     REDIS_EVENTS_MAXLEN's default with the lists in full (HISTORY_ARCHIVE=off,
 *     the only path measured before --stream existed). Automatic AOF rewrites
 *     are off on this Redis (auto-aof-rewrite-percentage 0): a rewrite in the
 *     middle of a replay shrinks aof_current_size, so AOF B/op is the bytes
 *     each call appends, not that minus whatever a rewrite happened to save.
 *  2. plan/apply through the Ledger on the memory store: the same game,
 *     ops/s of `Ledger.execute` (planning, cache, keyed lock, Effect).
 *  3. the same game through the service's own call path on the memory store,
 *     without the network: the gRPC call runner (span, log annotations,
 *     metrics, completion line) -> request decoding -> Ledger -> response
 *     encoding, called as grpc-js calls a unary handler. Its cost above (2)
 *     is the glue of a call; above that, `npm run bench` adds gRPC and Redis.
 *
 *   npm run bench:store [-- --ops 20000 --concurrency 32 --tables 32 --batch 32 --fsync always|everysec --stream refs|full|capped]
 *   npm run bench:store -- --parts ledger,call     only the in-process layers (2, 3): no redis-server
 *   npm run bench:store -- --parts call --rounds 5  (2)/(3) measured 5 times: min and median CPU µs/op
 *                                                  (on a shared machine the minimum is the steadier figure)
 *   node --cpu-prof --cpu-prof-dir .bench/prof scripts/bench-store.ts --parts call   a profile of the call path alone
 *
 * Prints a table and, last, one JSON line.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { parseArgs } from "node:util"
import { Effect, Layer, ManagedRuntime } from "effect"
import { makeBalanceHandlers } from "../src/api/grpc/balanceHandlers.ts"
import { makeAuthorizer } from "../src/api/grpc/callAuth.ts"
import { makeCallRunner } from "../src/api/grpc/callRunner.ts"
import { authSettingsWith } from "../src/api/http/auth/AuthSettings.ts"
import { BENCH_ADMIN_KEY, benchMetadata } from "./bench/proto.ts"
import { CommandExecutor } from "../src/degradation/CommandExecutor.ts"
import { Redis } from "ioredis"
import { Ledger } from "../src/ledger/Ledger.ts"
import { LedgerSettings } from "../src/ledger/LedgerSettings.ts"
import { grpcCallObserver, Metrics } from "../src/observability/Metrics.ts"
import { MemoryStore } from "../src/store/memory/MemoryStore.ts"
import { type ScriptCall, scriptCall } from "../src/store/redis/scriptLayout.ts"
import { applyLayout, applyPlanLayout } from "../src/store/redis/scriptLayouts.ts"
import { readLuaScript } from "../src/store/redis/luaScripts.ts"
import { redisKeys } from "../src/store/redis/redisKeys.ts"
import { UNCAPPED_STREAM } from "../src/store/redis/redisStoreOptions.ts"
import { redisServerArgs, spawnRedisServerOnFreePort, stopRedisServer } from "../src/store/redis/redisServerProcess.ts"
import { type ApplyRequest, Store } from "../src/store/Store.ts"
import { parseRedisCpu, round } from "./bench/stats.ts"
import type { Command } from "../src/domain/commands.ts"
import type { Message } from "./bench/proto.ts"
import { commandOf, wireResponse } from "./bench/gameCommands.ts"
import { accountsOf, gameLoop, INITIAL_BALANCE, type LoopContext, prng } from "./bench/workloads.ts"

const { values: flags } = parseArgs({
  options: {
    ops: { type: "string", default: "20000" },
    concurrency: { type: "string", default: "32" },
    batch: { type: "string", default: "32" },
    tables: { type: "string", default: "32" },
    fsync: { type: "string", default: "always" },
    stream: { type: "string", default: "refs" },
    parts: { type: "string", default: "redis,ledger,call" },
    rounds: { type: "string", default: "1" }
  },
  strict: true
})
const OPS = Number(flags.ops)
const CONCURRENCY = Number(flags.concurrency)
const TABLES = Number(flags.tables)
const BATCH = Number(flags.batch)
if (flags.fsync !== "always" && flags.fsync !== "everysec") throw new Error("--fsync is always or everysec")
if (flags.stream !== "refs" && flags.stream !== "full" && flags.stream !== "capped") throw new Error(`--stream: refs, full or capped (got ${flags.stream})`)
/** The stream and transfer lists as apply.lua writes them (ApplyInput; RedisStore.layer decides them from config). */
const STREAM: { readonly eventsMaxLen: number; readonly transferLists: "refs" | "full" } = flags.stream === "capped"
  ? { eventsMaxLen: 100_000, transferLists: "full" }
  : { eventsMaxLen: UNCAPPED_STREAM, transferLists: flags.stream === "refs" ? "refs" : "full" }
const PARTS = new Set(flags.parts.split(","))
const ROUNDS = Number(flags.rounds)
for (const p of PARTS) if (p !== "redis" && p !== "ledger" && p !== "call") throw new Error(`--parts: redis, ledger, call (got ${p})`)

const log = (line: string) => console.log(line)

// ---------------------------------------------------------------------------
// The game as ledger commands (wire requests of workloads.ts -> commands)
// ---------------------------------------------------------------------------

/** snake_case wire fields as proto-loader hands them to the server (camelCase), nested messages too. */
const serverView = (value: unknown): unknown =>
  Array.isArray(value)
    ? value.map(serverView)
    : value !== null && typeof value === "object"
    ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()), serverView(v)]))
    : value

/**
 * Plays `TABLES` game tables until `ops` commands ran; ops/s of the whole run.
 * `path`: straight into `Ledger.execute`, or through the gRPC call runner and
 * the BalanceService handlers as grpc-js would call them. `onApply` sees every
 * apply request (recording).
 */
const playGame = async (ops: number, tag: string, path: "ledger" | "call", onApply?: (request: ApplyRequest) => void) => {
  const memory = MemoryStore.make()
  const store = onApply
    ? Store.of({ ...memory, apply: (request) => Effect.tap(memory.apply(request), () => Effect.sync(() => onApply(request))) })
    : memory
  const layer = CommandExecutor.layerWithoutQueue.pipe(
    Layer.provideMerge(Ledger.layer),
    Layer.provideMerge(Layer.succeed(Store, store)),
    Layer.provideMerge(LedgerSettings.layerWith()),
    Layer.provideMerge(Metrics.layer)
  )
  const runtime = ManagedRuntime.make(layer)
  const ledger = await runtime.runPromise(Ledger.use(Effect.succeed))
  const execute = (command: Command) => runtime.runPromise(ledger.execute(command))
  const handlers = await runtime.runPromise(makeBalanceHandlers)
  const metrics = await runtime.runPromise(Metrics.use(Effect.succeed))
  const runner = makeCallRunner({
    run: (effect) => runtime.runFork(effect),
    runStream: (effect) => runtime.runFork(effect),
    // The service's own check: game calls open (loopback), admin calls with the admin key, as the bench sends them.
    authorize: makeAuthorizer({ gameToken: undefined, admin: authSettingsWith({ adminApiKey: BENCH_ADMIN_KEY }) }),
    observe: grpcCallObserver(metrics)
  })
  const unary = Object.fromEntries(
    Object.entries(handlers).map(([method, m]) => [method, runner.unary("balance.BalanceService", method, m.handle, m.mode, m.access)])
  )
  const viaCallRunner = (method: string, request: Message) =>
    new Promise<Message>((resolve, reject) => {
      const call = { request: serverView(request), metadata: benchMetadata(method), cancelled: false, on: () => call }
      unary[method]!(call as never, (error: unknown, response?: unknown) => {
        if (error) reject(new Error(`${method}: ${JSON.stringify(error)}`))
        else if ((response as Message).ok === false) reject(new Error(`${method} refused: ${JSON.stringify(response)}`))
        else resolve(response as Message)
      })
    })
  for (let t = 0; t < TABLES; t++) {
    for (const accountId of accountsOf("game", tag, t)) {
      await execute({ op: "EnsureAccount", accountId, initialBalance: INITIAL_BALANCE })
    }
  }
  let done = 0
  let keys = 0
  const started = performance.now()
  const ctx = (t: number): LoopContext => ({
    rpc: async (method, request) => {
      done += 1
      return path === "call"
        ? wireResponse(await viaCallRunner(method, request))
        : wireResponse((await execute(commandOf(method, request))).result)
    },
    stopped: () => done >= ops,
    random: prng(0x9e3779b1 ^ (t * 2654435761)),
    key: () => `${tag}-${++keys}`
  })
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, TABLES) }, (_, t) => gameLoop(ctx(t), tag, t, 0)))
  const seconds = (performance.now() - started) / 1000
  await runtime.dispose()
  return { ops: done, seconds, opsPerSecond: Math.round(done / seconds) }
}

// ---------------------------------------------------------------------------
// Redis: replay at a fixed number of calls in flight on one connection
// ---------------------------------------------------------------------------

const replay = async (
  redis: Redis,
  calls: ReadonlyArray<ReadonlyArray<string | number>>,
  check: (reply: unknown) => void,
  /** Plans (ops) in all calls, and calls in flight; a batched call carries many. */
  { ops = calls.length, lanes = CONCURRENCY }: { readonly ops?: number; readonly lanes?: number } = {}
) => {
  const cpuBefore = parseRedisCpu(await redis.info("cpu"))
  const aofBefore = Number(/aof_current_size:(\d+)/.exec(await redis.info("persistence"))?.[1] ?? 0)
  let next = 0
  const clientCpu = process.cpuUsage()
  const started = performance.now()
  const lane = async () => {
    while (next < calls.length) {
      const args = calls[next++]!
      check(await redis.call("EVALSHA", ...args))
    }
  }
  await Promise.all(Array.from({ length: lanes }, lane))
  const seconds = (performance.now() - started) / 1000
  const client = process.cpuUsage(clientCpu)
  const cpu = parseRedisCpu(await redis.info("cpu")) - cpuBefore
  const aof = Number(/aof_current_size:(\d+)/.exec(await redis.info("persistence"))?.[1] ?? 0) - aofBefore
  return {
    ops,
    seconds: round(seconds, 2),
    opsPerSecond: Math.round(ops / seconds),
    redisCpuUsPerOp: Math.round((cpu / ops) * 1e6),
    /** This process (ioredis: command encoding, socket writes, reply parsing). */
    clientCpuUsPerOp: Math.round(((client.user + client.system) / ops)),
    aofBytesPerOp: Math.round(aof / ops)
  }
}

const TRIVIAL = `return redis.call("MSET", KEYS[1], ARGV[1], KEYS[2], ARGV[1])`

/** (1): apply.lua replayed against a trivial script on a private redis-server with the service's persistence. */
const redisPart = async () => {
  const dir = mkdtempSync(join(tmpdir(), "balance-bench-store-"))
  const server = await spawnRedisServerOnFreePort({ dir })
  const redis = new Redis(server.url)
  try {
    if (flags.fsync !== "always") await redis.config("SET", "appendfsync", flags.fsync)
    // No automatic rewrite: AOF B/op counts what each call appends (see the header).
    await redis.config("SET", "auto-aof-rewrite-percentage", "0")
    log(`redis-server on ${server.url}: ${redisServerArgs(server.port, dir).slice(4).join(" ")}${flags.fsync !== "always" ? ` (appendfsync changed to ${flags.fsync})` : ""}, auto-aof-rewrite-percentage 0`)
    log(`events stream: ${flags.stream === "capped" ? "capped at 100000 (MAXLEN ~), transfer lists in full" : `uncapped, transfer lists ${flags.stream === "refs" ? "referencing its events" : "in full"}`}`)

    log(`recording the apply requests of a ${TABLES}-table game (${OPS} commands) on the memory store ...`)
    const keys = redisKeys("balance:")
    const applySha = String(await redis.script("LOAD", readLuaScript("apply.lua")))
    const applyCalls: Array<Array<string | number>> = []
    // The same plans on keys of their own, for the batched replay.
    const batchedKeys = redisKeys("batched:")
    const batchedPlans: Array<ScriptCall> = []
    await playGame(OPS, "rec", "ledger", (request) => {
      const plan = scriptCall(applyPlanLayout, { request, keys, deadlineMs: 0, compactIdempotency: false })
      const { keys: k, args } = scriptCall(applyLayout, { keys, ...STREAM, plans: [plan] })
      applyCalls.push([applySha, k.length, ...k, ...args])
      batchedPlans.push(scriptCall(applyPlanLayout, { request, keys: batchedKeys, deadlineMs: 0, compactIdempotency: false }))
    })
    const batchedCalls: Array<Array<string | number>> = []
    for (let i = 0; i < batchedPlans.length; i += BATCH) {
      const { keys: k, args } = scriptCall(applyLayout, { keys: batchedKeys, ...STREAM, plans: batchedPlans.slice(i, i + BATCH) })
      batchedCalls.push([applySha, k.length, ...k, ...args])
    }
    const argBytes = applyCalls.reduce((n, c) => n + c.slice(2).reduce<number>((m, a) => m + String(a).length, 0), 0)

    const trivialSha = String(await redis.script("LOAD", TRIVIAL))
    const trivialCalls = applyCalls.map((_, i) => [trivialSha, 2, `trivial:a:${i % 1000}`, `trivial:b:${i % 1000}`, String(i)])

    log(`apply.lua: replaying ${applyCalls.length} applies, ${CONCURRENCY} in flight on one connection ...`)
    const apply = await replay(redis, applyCalls, (reply) => {
      if (!Array.isArray(reply) || !Array.isArray(reply[0]) || reply[0][0] !== "APPLIED") throw new Error(`apply.lua answered ${JSON.stringify(reply)}`)
    })
    log(`apply.lua in batches of ${BATCH}: ${batchedCalls.length} calls, ${Math.max(1, Math.round(CONCURRENCY / BATCH))} in flight ...`)
    const batched = await replay(redis, batchedCalls, (reply) => {
      if (!Array.isArray(reply) || !reply.every((r) => Array.isArray(r) && r[0] === "APPLIED")) {
        throw new Error(`apply.lua answered ${JSON.stringify(reply).slice(0, 300)}`)
      }
    }, { ops: batchedPlans.length, lanes: Math.max(1, Math.round(CONCURRENCY / BATCH)) })
    log(`trivial two-key script: ${trivialCalls.length} calls ...`)
    const trivial = await replay(redis, trivialCalls, () => {})
    return { apply, batched, trivial, ratio: round(apply.opsPerSecond / trivial.opsPerSecond, 3), argBytesPerOp: Math.round(argBytes / applyCalls.length) }
  } finally {
    redis.disconnect()
    await stopRedisServer(server)
    rmSync(dir, { recursive: true, force: true })
  }
}

/** (2) or (3) on the memory store, after a JIT warm-up of the same path; `ROUNDS` measured runs. */
const inProcessPart = async (path: "ledger" | "call") => {
  log(path === "ledger"
    ? `Ledger.execute on the memory store: ${OPS} game commands, ${Math.min(CONCURRENCY, TABLES)} tables at once ...`
    : `the same through the gRPC call runner and handlers (no network) ...`)
  await playGame(Math.min(OPS, 5000), `warm-${path}`, path)
  const runs: Array<{ ops: number; seconds: number; opsPerSecond: number; cpuUsPerOp: number }> = []
  for (let r = 0; r < ROUNDS; r++) {
    const cpu = process.cpuUsage()
    const run = await playGame(OPS, `${path === "ledger" ? "mem" : "call"}${r}`, path)
    const used = process.cpuUsage(cpu)
    runs.push({ ...run, seconds: round(run.seconds, 2), cpuUsPerOp: Math.round((used.user + used.system) / run.ops) })
  }
  const cpus = runs.map((x) => x.cpuUsPerOp).sort((a, b) => a - b)
  const best = runs.reduce((a, b) => (b.opsPerSecond > a.opsPerSecond ? b : a))
  return { ...best, cpuUsPerOp: cpus[0]!, cpuUsPerOpMedian: cpus[Math.floor(cpus.length / 2)]!, cpuUsPerOpRuns: runs.map((x) => x.cpuUsPerOp) }
}

const main = async () => {
  const redisFigures = PARTS.has("redis") ? await redisPart() : undefined
  const memory = PARTS.has("ledger") ? await inProcessPart("ledger") : undefined
  const callPath = PARTS.has("call") ? await inProcessPart("call") : undefined

  log("")
  if (redisFigures) {
    const line = (what: string, r: typeof redisFigures.apply) =>
      `${what.padEnd(44)} ${String(r.opsPerSecond).padStart(8)} ${String(r.redisCpuUsPerOp).padStart(16)} ${String(r.clientCpuUsPerOp).padStart(17)} ${String(r.aofBytesPerOp).padStart(9)}`
    log(`${"what".padEnd(44)} ${"ops/s".padStart(8)} ${"Redis CPU µs/op".padStart(16)} ${"client CPU µs/op".padStart(17)} ${"AOF B/op".padStart(9)}`)
    log(line("apply.lua (game mix)", redisFigures.apply))
    log(line(`apply.lua, ${BATCH} plans per call (per plan)`, redisFigures.batched))
    log(line("trivial one-call two-key Lua script", redisFigures.trivial))
    log(`${"ratio apply / trivial".padEnd(44)} ${String(redisFigures.ratio).padStart(8)}`)
  }
  // CPU µs/op of this process: the setup of each run (accounts) included, the warm-up not.
  const inProcessLine = (what: string, r: NonNullable<typeof memory>) =>
    log(`${what.padEnd(44)} ${String(r.opsPerSecond).padStart(8)} ops/s ${String(r.cpuUsPerOp).padStart(6)} CPU µs/op` +
      (r.cpuUsPerOpRuns.length > 1 ? ` (min; median ${r.cpuUsPerOpMedian}, runs ${r.cpuUsPerOpRuns.join(" ")})` : ""))
  if (memory) inProcessLine("Ledger.execute, memory store (game mix)", memory)
  if (callPath) inProcessLine("call runner + handlers + Ledger, memory store", callPath)
  if (redisFigures) log(`apply.lua arguments: ${redisFigures.argBytesPerOp} bytes per call on average`)
  console.log(JSON.stringify({
    benchmark: "balance-service store",
    command: `npm run bench:store${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(" ")}` : ""}`,
    ...(redisFigures
      ? {
        redis: { appendfsync: flags.fsync, concurrency: CONCURRENCY, connections: 1, stream: flags.stream },
        applyScript: { ...redisFigures.apply, argBytesPerOp: redisFigures.argBytesPerOp },
        applyScriptBatched: { ...redisFigures.batched, plansPerCall: BATCH },
        trivialScript: redisFigures.trivial,
        applyToTrivialRatio: redisFigures.ratio
      }
      : {}),
    ...(memory ? { memoryStoreLedger: memory } : {}),
    ...(callPath ? { memoryStoreCallPath: callPath } : {})
  }))
}

await main()

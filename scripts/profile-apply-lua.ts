/**
 * Where Redis' CPU goes per plan of apply.lua (issues 14, 18).
 *
 * Records the apply requests of an in-process game (the Ledger on the memory store, the same mix
 * as `npm run bench -- --workload game`), then replays them, in order and in batches of
 * `--batches` plans per call, against a private redis-server with the service's settings
 * (redisServerArgs: AOF appendfsync always, noeviction), each run on a fresh key prefix so that
 * every plan applies. Per run: Redis' own CPU (INFO cpu, user and sys) and INFO commandstats
 * (apply.lua's EVALSHA and the calls it makes), per plan.
 *
 * Variants are apply.lua with parts cut out by exact text replacement (each replacement must match
 * once, so a variant cannot silently measure the unchanged script), or server settings:
 *   as-is            the script as it is
 *   ...              see VARIANTS below; "stub" variants read expected versions from ARGV (no
 *                    HGET) so that removing a write cannot turn later plans into CONFLICTs
 *   tracking         a second client under CLIENT TRACKING (OPTIN, redirected, as the service's
 *                    read cache) reads every object a batch writes just before it (CLIENT CACHING
 *                    yes + HMGET); "reads" does the same reads untracked: the difference is what
 *                    tracking costs Redis
 *   aof-off          appendonly no
 *
 *   npx node scripts/profile-apply-lua.ts [--plans 3000] [--batches 1,4,17] [--rounds 3]
 *     [--variants as-is,no-validation,...] [--script path/to/apply.lua] [--baseline path/to/apply.lua] [--perf as-is:17]
 *     [--stream refs|capped]
 *
 * `--script` measures another apply.lua (e.g. `git show main:src/store/redis/apply.lua > /tmp/a.lua`)
 * against the same plans, `--baseline` another one alongside (interleaved: the fair before/after);
 * `--perf variant:batch` also records `perf record -g` of redis-server
 * during that run (needs perf) and prints its top symbols.
 * Figures are the minimum over `--rounds` runs (the machine is shared: the minimum is steadier).
 */
import { spawn } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { parseArgs } from "node:util"
import { Effect, Layer, ManagedRuntime } from "effect"
import { Redis } from "ioredis"
import { CommandExecutor } from "../src/degradation/CommandExecutor.ts"
import { Ledger } from "../src/ledger/Ledger.ts"
import { LedgerSettings } from "../src/ledger/LedgerSettings.ts"
import { Metrics } from "../src/observability/Metrics.ts"
import { MemoryStore } from "../src/store/memory/MemoryStore.ts"
import { readLuaScript } from "../src/store/redis/luaScripts.ts"
import { redisKeys } from "../src/store/redis/redisKeys.ts"
import { spawnRedisServerOnFreePort, stopRedisServer } from "../src/store/redis/redisServerProcess.ts"
import { scriptCall } from "../src/store/redis/scriptLayout.ts"
import { applyLayout, applyPlanLayout } from "../src/store/redis/scriptLayouts.ts"
import { UNCAPPED_STREAM } from "../src/store/redis/redisStoreOptions.ts"
import { type ApplyRequest, Store } from "../src/store/Store.ts"
import { parseRedisCpuSplit } from "./bench/stats.ts"
import { commandOf, wireResponse } from "./bench/gameCommands.ts"
import { accountsOf, gameLoop, INITIAL_BALANCE, type LoopContext, prng } from "./bench/workloads.ts"

const { values: flags } = parseArgs({
  options: {
    plans: { type: "string", default: "3000" },
    tables: { type: "string", default: "32" },
    batches: { type: "string", default: "1,4,17" },
    rounds: { type: "string", default: "3" },
    variants: { type: "string" },
    script: { type: "string" },
    baseline: { type: "string" },
    perf: { type: "string" },
    stream: { type: "string", default: "refs" }
  },
  strict: true
})
const PLANS = Number(flags.plans)
const TABLES = Number(flags.tables)
const BATCHES = flags.batches.split(",").map(Number)
const ROUNDS = Number(flags.rounds)
const SOURCE = flags.script === undefined ? readLuaScript("apply.lua") : readFileSync(flags.script, "utf8")
/** `--baseline`: another apply.lua, every variant measured on it too (named `<variant>@baseline`), interleaved. */
/**
 * `--stream refs` (default, the service with the archive on): the stream uncapped, the transfer
 * lists hold references to its events; `--stream capped`: MAXLEN ~ 1,000,000 and the lists hold
 * each transfer (the archive off; also what an apply.lua from before the references accepts).
 */
if (flags.stream !== "refs" && flags.stream !== "capped") throw new Error("--stream must be refs or capped")
const streamCap = flags.stream === "refs" ? UNCAPPED_STREAM : 1_000_000
const BASELINE = flags.baseline === undefined ? undefined : readFileSync(flags.baseline, "utf8")

// ---------------------------------------------------------------------------
// Variants of the script
// ---------------------------------------------------------------------------

type Replacement = readonly [from: string, to: string]

/** Replaces `from` (which must occur) by `to`, every occurrence. */
const replaceAll = (source: string, [from, to]: Replacement, variant: string) => {
  if (!source.includes(from)) throw new Error(`variant ${variant}: the script has no ${JSON.stringify(from)}`)
  return source.split(from).join(to)
}

const APPLIED_REPLIES = `local replies = {}\nfor p = 1, nPlans do replies[p] = { "APPLIED" } end\nreturn replies\n`

/** Expected versions from ARGV instead of HGET: every plan applies whatever the writes did. */
const STUB_EXPECTED: Replacement = [`redis.call("HGET", KEYS[kExpected + i], "v")`, `ARGV[aExpected + i]`]
const NO_TIME: Replacement = [`redis.call("TIME")`, `{ "1", "0" }`]
const NO_IDEMPOTENCY_READ: Replacement = [`readIdempotency(plan.idemKey, plan.mode)`, `nil`]
const NO_VALIDATION: ReadonlyArray<Replacement> = [
  [`local function isCount(s)\n`, `local function isCount(s)\n  do return true end\n`],
  [`local function isInteger(s)\n`, `local function isInteger(s)\n  do return true end\n`]
]
const NO_HSET_OBJECTS: Replacement = [
  `redis.call("HSET", KEYS[kWrites + i + 1], "v", ARGV[aWrites + 2 * i + 1], "d", ARGV[aWrites + 2 * i + 2])`,
  ``
]
const NO_RPUSH_ENTRIES: Replacement = [`redis.call("RPUSH", KEYS[kEntries + i], ARGV[aEntries + i])`, ``]
const NO_RPUSH_TRANSFERS: ReadonlyArray<Replacement> = [
  [`redis.call("RPUSH", KEYS[kTransfers + 2 * i + 1], element)`, ``],
  [`redis.call("RPUSH", KEYS[kTransfers + 2 * i + 2], element)`, ``]
]
const NO_XADD: Replacement = [`redis.call("XADD", KEYS[5]`, `NOOP(KEYS[5]`]
const NO_IDEMPOTENCY_WRITE: Replacement = [`redis.call("SET", plan.idemKey`, `NOOP(plan.idemKey`]
const NO_ZSETS: ReadonlyArray<Replacement> = [
  [`redis.call("ZREM", KEYS[3]`, `NOOP(KEYS[3]`],
  [`redis.call("ZADD", KEYS[3]`, `NOOP(KEYS[3]`],
  [`redis.call("ZADD", KEYS[4]`, `NOOP(KEYS[4]`],
  [`redis.call("ZREM", KEYS[4]`, `NOOP(KEYS[4]`],
  [`redis.call("ZADD", KEYS[6]`, `NOOP(KEYS[6]`]
]
const NO_SYSTEM_AND_STATS: ReadonlyArray<Replacement> = [
  [`tonumber(redis.call("HGET", KEYS[1], account) or "0")`, `0`],
  [`redis.call("HSET", KEYS[1], account`, `NOOP(KEYS[1], account`],
  [`if delta ~= 0 then redis.call("HINCRBY", KEYS[2]`, `if delta ~= 0 then NOOP(KEYS[2]`]
]
const ALL_CALLS: ReadonlyArray<Replacement> = [
  STUB_EXPECTED, NO_TIME, NO_IDEMPOTENCY_READ, NO_HSET_OBJECTS, NO_RPUSH_ENTRIES, ...NO_RPUSH_TRANSFERS, NO_XADD,
  NO_IDEMPOTENCY_WRITE, ...NO_ZSETS, ...NO_SYSTEM_AND_STATS
]

interface Variant {
  readonly name: string
  readonly what: string
  readonly script: (source: string) => string
  readonly aof?: "off"
  /** Reads of every written object before each batch: tracked (CLIENT CACHING yes) or not. */
  readonly reads?: "tracked" | "untracked"
}

/** A call cut out keeps its arguments' evaluation: `NOOP(...)` (defined in front of the script). */
const edit = (...replacements: ReadonlyArray<Replacement>) => (name: string) => (source: string) =>
  "local function NOOP() end\n" + replacements.reduce((s, r) => replaceAll(s, r, name), source)

const variant = (name: string, what: string, ...replacements: ReadonlyArray<Replacement>): Variant => ({
  name,
  what,
  script: edit(...replacements)(name)
})

const VARIANTS: ReadonlyArray<Variant> = [
  variant("as-is", "the script as it is"),
  {
    name: "args-only",
    what: "same KEYS/ARGV, script only returns APPLIED per plan",
    script: (source) => source.slice(0, source.indexOf("]]") + 2) + "\nlocal nPlans = tonumber(ARGV[1])\n" + APPLIED_REPLIES
  },
  {
    name: "parse-only",
    what: "offsets and whole-batch validation, then returns",
    script: (source) => replaceAll(source, [`-- TIME once:`, `do\n${APPLIED_REPLIES}end\n-- TIME once:`], "parse-only")
  },
  {
    name: "parse-no-validation",
    what: "offsets only (isCount/isInteger always true), then returns",
    script: (source) =>
      edit(...NO_VALIDATION, [`-- TIME once:`, `do\n${APPLIED_REPLIES}end\n-- TIME once:`])("parse-no-validation")(source)
  },
  variant("no-validation", "isCount/isInteger always true", ...NO_VALIDATION),
  variant("stub", "expected versions from ARGV (no HGET): base of the no-* below", STUB_EXPECTED),
  variant("no-time", "stub, and no TIME", STUB_EXPECTED, NO_TIME),
  variant("no-idem-read", "stub, and no idempotency GET", STUB_EXPECTED, NO_IDEMPOTENCY_READ),
  variant("no-hset", "stub, and no object HSET", STUB_EXPECTED, NO_HSET_OBJECTS),
  variant("no-rpush-entries", "stub, and no ledger RPUSH", STUB_EXPECTED, NO_RPUSH_ENTRIES),
  variant("no-rpush-transfers", "stub, and no transfer-list RPUSH", STUB_EXPECTED, ...NO_RPUSH_TRANSFERS),
  variant("no-xadd", "stub, and no XADD", STUB_EXPECTED, NO_XADD),
  variant("no-idem-write", "stub, and no idempotency SET", STUB_EXPECTED, NO_IDEMPOTENCY_WRITE),
  variant("no-zsets", "stub, and no ZADD/ZREM", STUB_EXPECTED, ...NO_ZSETS),
  variant("no-system", "stub, and no system HGET/HSET, stats HINCRBY", STUB_EXPECTED, ...NO_SYSTEM_AND_STATS),
  variant("no-calls", "no redis.call at all (Lua only)", ...ALL_CALLS),
  { ...variant("aof-off", "the script as it is, appendonly no"), aof: "off" },
  { ...variant("reads", "as-is, untracked reads of the written objects before each batch"), reads: "untracked" },
  { ...variant("tracking", "as-is, tracked reads (OPTIN, redirect) before each batch"), reads: "tracked" }
]

// ---------------------------------------------------------------------------
// Recording the game's applies
// ---------------------------------------------------------------------------

const recordGame = async (plans: number): Promise<Array<ApplyRequest>> => {
  const recorded: Array<ApplyRequest> = []
  const memory = MemoryStore.make()
  const store = Store.of({
    ...memory,
    apply: (request) => Effect.tap(memory.apply(request), () => Effect.sync(() => void recorded.push(request)))
  })
  const runtime = ManagedRuntime.make(CommandExecutor.layerWithoutQueue.pipe(
    Layer.provideMerge(Ledger.layer),
    Layer.provideMerge(Layer.succeed(Store, store)),
    Layer.provideMerge(LedgerSettings.layerWith()),
    Layer.provideMerge(Metrics.layer)
  ))
  const ledger = await runtime.runPromise(Ledger.use(Effect.succeed))
  const execute = (command: Parameters<typeof ledger.execute>[0]) => runtime.runPromise(ledger.execute(command))
  for (let t = 0; t < TABLES; t++) {
    for (const accountId of accountsOf("game", "prof", t)) await execute({ op: "EnsureAccount", accountId, initialBalance: INITIAL_BALANCE })
  }
  let keys = 0
  const ctx = (t: number): LoopContext => ({
    rpc: async (method, request) => wireResponse((await execute(commandOf(method, request))).result),
    stopped: () => recorded.length >= plans,
    random: prng(0x9e3779b1 ^ (t * 2654435761)),
    key: () => `prof-${++keys}`
  })
  await Promise.all(Array.from({ length: TABLES }, (_, t) => gameLoop(ctx(t), "prof", t, 0)))
  await runtime.dispose()
  return recorded
}

// ---------------------------------------------------------------------------
// Replay
// ---------------------------------------------------------------------------

const commandStats = (info: string): Map<string, { calls: number; usec: number }> => {
  const stats = new Map<string, { calls: number; usec: number }>()
  for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) stats.set(m[1]!, { calls: Number(m[2]), usec: Number(m[3]) })
  return stats
}

interface RunFigures {
  readonly user: number
  readonly sys: number
  readonly evalsha: number
  readonly inner: Map<string, number>
  /** Calls per plan of each inner command. */
  readonly innerCalls: Map<string, number>
  readonly argBytes: number
  readonly applied: number
  readonly otherOutcomes: string
}

let runNumber = 0

const run = async (redis: Redis, tracker: Redis, requests: ReadonlyArray<ApplyRequest>, v: Variant, batch: number, sha: string): Promise<RunFigures> => {
  const keys = redisKeys(`r${++runNumber}:`)
  const deadlineMs = Date.now() + 3_600_000
  const plans = requests.map((request) => ({ request, call: scriptCall(applyPlanLayout, { request, keys, deadlineMs, compactIdempotency: true }) }))
  const calls: Array<{ args: Array<string | number>; reads: Array<string> }> = []
  let argBytes = 0
  for (let i = 0; i < plans.length; i += batch) {
    const slice = plans.slice(i, i + batch)
    const { keys: k, args } = scriptCall(applyLayout, { keys, eventsMaxLen: streamCap, plans: slice.map((p) => p.call) })
    for (const s of [...k, ...args]) argBytes += s.length
    calls.push({ args: [sha, k.length, ...k, ...args], reads: slice.flatMap((p) => p.request.plan.writes.map((w) => keys.object(w.key))) })
  }
  await redis.config("SET", "appendonly", v.aof === "off" ? "no" : "yes")
  await redis.config("RESETSTAT")
  const before = parseRedisCpuSplit(await redis.info("cpu"))
  const outcomes = new Map<string, number>()
  for (const { args, reads } of calls) {
    if (v.reads !== undefined && reads.length > 0) {
      const pipeline = tracker.pipeline()
      for (const key of reads) {
        if (v.reads === "tracked") pipeline.call("CLIENT", "CACHING", "yes")
        pipeline.hmget(key, "v", "d")
      }
      await pipeline.exec()
    }
    const reply = (await redis.call("EVALSHA", ...args)) as Array<Array<string>>
    for (const r of reply) outcomes.set(r[0]!, (outcomes.get(r[0]!) ?? 0) + 1)
  }
  const after = parseRedisCpuSplit(await redis.info("cpu"))
  const stats = commandStats(await redis.info("commandstats"))
  const n = plans.length
  const inner = new Map<string, number>()
  const innerCalls = new Map<string, number>()
  for (const [name, s] of stats) {
    if (name === "evalsha" || name === "info" || name.startsWith("config") || name === "flushall") continue
    inner.set(name, s.usec / n)
    innerCalls.set(name, s.calls / n)
  }
  await redis.flushall()
  const applied = outcomes.get("APPLIED") ?? 0
  return {
    user: ((after.user - before.user) * 1e6) / n,
    sys: ((after.sys - before.sys) * 1e6) / n,
    evalsha: (stats.get("evalsha")?.usec ?? 0) / n,
    inner,
    innerCalls,
    argBytes: argBytes / n,
    applied,
    otherOutcomes: [...outcomes].filter(([o]) => o !== "APPLIED").map(([o, c]) => `${o} ${c}`).join(", ")
  }
}

const perfRecord = (pid: number, out: string) => {
  const perf = spawn("perf", ["record", "-F", "4000", "-g", "-p", String(pid), "-o", out], { stdio: "ignore" })
  return async () => {
    perf.kill("SIGINT")
    await new Promise((resolve) => perf.once("exit", resolve))
    const report = spawn("perf", ["report", "-i", out, "--no-children", "--stdio", "--percent-limit", "0.7", "-g", "none"], { stdio: ["ignore", "pipe", "ignore"] })
    let text = ""
    report.stdout.on("data", (d: Buffer) => (text += d.toString()))
    await new Promise((resolve) => report.once("exit", resolve))
    console.log(text.split("\n").filter((l) => l.trim() !== "" && !l.startsWith("#")).slice(0, 45).join("\n"))
  }
}

const main = async () => {
  const chosen = flags.variants === undefined ? VARIANTS : flags.variants.split(",").map((name) => {
    const v = VARIANTS.find((x) => x.name === name)
    if (v === undefined) throw new Error(`--variants: no ${name}; one of ${VARIANTS.map((x) => x.name).join(", ")}`)
    return v
  })
  const baseline = BASELINE
  const selected: ReadonlyArray<Variant & { readonly source: string }> = chosen.flatMap((v) => [
    ...(baseline === undefined ? [] : [{ ...v, name: `${v.name}@baseline`, source: baseline }]),
    { ...v, source: SOURCE }
  ])
  console.log(`recording ${PLANS} applies of a ${TABLES}-table game on the memory store ...`)
  const requests = (await recordGame(PLANS)).slice(0, PLANS)
  const dir = mkdtempSync(join(tmpdir(), "balance-profile-apply-"))
  const server = await spawnRedisServerOnFreePort({ dir })
  const redis = new Redis(server.url)
  // RESP2: invalidations arrive as pub/sub messages (ioredis drops RESP3 push frames), as in invalidationTracking.ts.
  const subscriber = new Redis(server.url, { protocol: 2 })
  const tracker = new Redis(server.url)
  try {
    const subscriberId = String(await subscriber.client("ID"))
    await subscriber.subscribe("__redis__:invalidate")
    let invalidations = 0
    subscriber.on("message", () => void (invalidations += 1))
    await tracker.client("TRACKING", "ON", "REDIRECT", subscriberId, "OPTIN")
    console.log(`redis-server ${server.url} (pid ${server.child.pid}), ${requests.length} plans per run, min of ${ROUNDS} rounds, µs per plan`)
    const header = ["variant", "batch", "user", "sys", "evalsha", "inner", "script-inner", "args B", "inner commands (µs/calls per plan)"]
    console.log(header.join("\t"))
    // Rounds are interleaved (every variant once per round) so that a busy spell of the shared machine
    // hits all of them alike; each figure is the minimum over the rounds.
    const shas = new Map<string, string>()
    for (const v of selected) shas.set(v.name, String(await redis.script("LOAD", v.script(v.source))))
    const rounds = new Map<string, Array<RunFigures>>()
    for (let r = 0; r < ROUNDS; r++) {
      for (const v of selected) {
        for (const batch of BATCHES) {
          const perf = r === 0 && flags.perf === `${v.name}:${batch}` && server.child.pid !== undefined
            ? perfRecord(server.child.pid, join(tmpdir(), "profile-apply-lua.perf.data"))
            : undefined
          const figures = await run(redis, tracker, requests, v, batch, shas.get(v.name)!)
          if (perf) await perf()
          const id = `${v.name}\t${batch}`
          rounds.set(id, [...(rounds.get(id) ?? []), figures])
        }
      }
    }
    const results: Array<Record<string, unknown>> = []
    const f = (x: number) => x.toFixed(1)
    for (const v of selected) {
      for (const batch of BATCHES) {
        const runs = rounds.get(`${v.name}\t${batch}`)!
        const best = runs.reduce((a, b) => (b.user + b.sys < a.user + a.sys ? b : a))
        const minOf = (g: (x: RunFigures) => number) => Math.min(...runs.map(g))
        const innerTotal = [...best.inner.values()].reduce((a, b) => a + b, 0)
        const innerText = [...best.inner].sort((a, b) => b[1] - a[1]).filter(([, us]) => us >= 0.05)
          .map(([name, us]) => `${name} ${us.toFixed(1)}/${best.innerCalls.get(name)!.toFixed(2)}`).join(" ")
        console.log([v.name, batch, f(minOf((x) => x.user)), f(minOf((x) => x.sys)), f(minOf((x) => x.evalsha)), f(innerTotal),
          f(minOf((x) => x.evalsha) - innerTotal), Math.round(best.argBytes), innerText].join("\t") +
          (best.otherOutcomes === "" ? "" : `\t(${best.otherOutcomes})`))
        results.push({ variant: v.name, batch, user: minOf((x) => x.user), sys: minOf((x) => x.sys), evalsha: minOf((x) => x.evalsha), inner: Object.fromEntries(best.inner), applied: best.applied, other: best.otherOutcomes })
      }
    }
    console.log(`invalidation messages received: ${invalidations}`)
    console.log(JSON.stringify({ profile: "apply.lua", command: `npx node scripts/profile-apply-lua.ts ${process.argv.slice(2).join(" ")}`.trim(), plans: requests.length, rounds: ROUNDS, results }))
  } finally {
    subscriber.disconnect()
    tracker.disconnect()
    redis.disconnect()
    await stopRedisServer(server)
    rmSync(dir, { recursive: true, force: true })
  }
}

await main()

/**
 * The archiver's own throughput, in process, without the service:
 *
 *   node scripts/bench-archive.ts [--entries 60000] [--batch 1000] [--rounds 2]
 *
 * A private redis-server and PostgreSQL (the machine's binaries, temp dirs),
 * N ledger entries written by the real apply.lua (scripts/bench/seed.ts:
 * EnsureAccount/Deposit, one entry and one transfer per apply, the stream not
 * capped), then Archiver.drain with trimming as ArchiveJob runs it, timed:
 * rows/s = (entries + transfers + closed objects) committed per second of
 * drain, and the trim's share. Each round starts from a fresh Redis and
 * database. Compare before/after on the same machine in the same conditions.
 */
import { spawnSync } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { parseArgs } from "node:util"
import { Effect, Layer } from "effect"
import { Archiver } from "../src/archive/Archiver.ts"
import { HistoryStore } from "../src/history/HistoryStore.ts"
import { findPostgresBin, spawnPostgresServerOnFreePort, stopPostgresServer } from "../src/history/postgresServerProcess.ts"
import { LedgerSettings } from "../src/ledger/LedgerSettings.ts"
import { Metrics } from "../src/observability/Metrics.ts"
import { RedisStore } from "../src/store/redis/RedisStore.ts"
import { spawnRedisServerOnFreePort, stopRedisServer } from "../src/store/redis/redisServerProcess.ts"
import { processTreeCpuSeconds } from "./bench/processes.ts"
import { seedEntries } from "./bench/seed.ts"

const { values: flags } = parseArgs({
  options: { entries: { type: "string" }, batch: { type: "string" }, rounds: { type: "string" } }
})
const entries = Number(flags.entries ?? 60_000)
const batchEvents = Number(flags.batch ?? 1_000)
const rounds = Number(flags.rounds ?? 2)
const log = (line: string) => console.log(line)

/** Redis' own CPU seconds (INFO cpu). */
const redisCpuSeconds = async (url: string): Promise<number> => {
  const { Redis } = await import("ioredis")
  const client = new Redis(url)
  const info = await client.info("cpu")
  client.disconnect()
  return Number(/used_cpu_user:([\d.]+)/.exec(info)?.[1] ?? 0) + Number(/used_cpu_sys:([\d.]+)/.exec(info)?.[1] ?? 0)
}

const round = async (n: number) => {
  const work = mkdtempSync(join(tmpdir(), "bench-archive-"))
  const redis = await spawnRedisServerOnFreePort({ dir: join(work, "redis") })
  const pg = await spawnPostgresServerOnFreePort({ dir: join(work, "postgres", "data") })
  try {
    const seeded = await seedEntries({
      redisUrl: redis.url,
      entries,
      hotWallets: Array.from({ length: 64 }, (_, i) => `hot-${i}`),
      tag: `r${n}`,
      log
    })
    const layer = Archiver.layerWith({ batchEvents, trim: true, owner: "bench" }).pipe(
      Layer.provide(RedisStore.layer({ url: redis.url, keyPrefix: "balance:", eventsMaxLen: Number.MAX_SAFE_INTEGER })),
      Layer.provide(HistoryStore.layer(pg.url)),
      Layer.provide(LedgerSettings.layerWith()),
      Layer.provide(Metrics.layer)
    )
    const pgCpu0 = processTreeCpuSeconds(pg.child.pid!)
    const redisCpu0 = await redisCpuSeconds(redis.url)
    const result = await Effect.runPromise(Effect.gen(function*() {
      const archiver = yield* Archiver
      const cpu0 = process.cpuUsage()
      const t0 = performance.now()
      let rows = 0
      let passes = 0
      for (;;) {
        const reports = yield* archiver.drain(1_000)
        for (const r of reports) {
          rows += r.entries + r.transfers + r.closed
          if (r.outcome === "committed") passes += 1
        }
        if (reports.every((r) => !r.more)) break
      }
      const seconds = (performance.now() - t0) / 1000
      const cpu = process.cpuUsage(cpu0)
      return { rows, passes, seconds, cpuS: (cpu.user + cpu.system) / 1e6 }
    }).pipe(Effect.provide(layer), Effect.scoped))
    const pgCpuS = processTreeCpuSeconds(pg.child.pid!) - pgCpu0
    const redisCpuS = (await redisCpuSeconds(redis.url)) - redisCpu0
    const rowsPerS = Math.round(result.rows / result.seconds)
    const allCpuUsPerRow = Math.round(((result.cpuS + pgCpuS + redisCpuS) * 1e6) / result.rows)
    // Disk per archived row (table + indexes), for sizing the history database (docs/operations.md §4).
    const sizes = spawnSync(join(findPostgresBin(), "psql"), [
      "-h", "127.0.0.1", "-p", String(pg.port), "-U", "postgres", "-At", "-F", " ", "-c",
      "select (select count(*) from ledger_entries), pg_total_relation_size('ledger_entries'), (select count(*) from transfers), " +
        "pg_total_relation_size('transfers'), (select count(*) from account_transfers), pg_total_relation_size('account_transfers')"
    ], { encoding: "utf8" }).stdout.trim().split(" ").map(Number)
    const [ne, be, nt, bt, na, ba] = sizes
    if (sizes.length === 6 && ne! > 0 && nt! > 0) {
      log(`  archive on disk: ${Math.round(be! / ne!)} B per entry, ${Math.round(bt! / nt!)} B per transfer, ${na! > 0 ? Math.round(ba! / na!) : 0} B per transfer position (tables with their indexes)`)
    }
    log(`round ${n}: seeded ${seeded.entries} entries in ${seeded.seconds.toFixed(1)} s; archived ${result.rows} rows in ${result.passes} batches of <= ${batchEvents} events, ${result.seconds.toFixed(2)} s: ${rowsPerS} rows/s (CPU: archiver ${result.cpuS.toFixed(2)} s, PostgreSQL ${pgCpuS.toFixed(2)} s, Redis ${redisCpuS.toFixed(2)} s; ${allCpuUsPerRow} µs/row in all)`)
    return rowsPerS
  } finally {
    await stopPostgresServer(pg)
    await stopRedisServer(redis)
    rmSync(work, { recursive: true, force: true })
  }
}

const figures: Array<number> = []
for (let n = 1; n <= rounds; n++) figures.push(await round(n))
log(`rows/s: ${figures.join(", ")} (batch ${batchEvents} events, ${entries} entries per round)`)

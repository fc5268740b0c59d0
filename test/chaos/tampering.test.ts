import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Redis } from "ioredis"
import { walletKey } from "../../src/domain/accounts.ts"
import { redisKeys } from "../../src/store/redis/redisKeys.ts"
import { type ChaosRedis, startChaosRedis } from "./support/chaosRedis.ts"
import { type ChaosClient, chaosClient } from "./support/grpcClient.ts"
import { eventually } from "../support/eventually.ts"
import { type LogLine, metric, parseMetrics, removeDir, type ServiceProcess, startService } from "./support/serviceProcess.ts"

/**
 * DESIGN 3: someone with write access to Redis edits the ledger behind the
 * service's back. The running service's own background job (incremental pass
 * every 500 ms, full pass every second, HMAC chain) must report each change:
 * a JSON log line `ledger verification finding` naming the account and the
 * seq, and balance_ledger_verification_failures_total{kind}.
 */

const keys = redisKeys("balance:")
let redis: ChaosRedis
let service: ServiceProcess
let client: ChaosClient
let admin: Redis

beforeAll(async () => {
  redis = await startChaosRedis()
  service = await startService({
    redisUrl: redis.url,
    // Archive off: these tamper with Redis' own ledger lists by index, which the archiver would
    // trim away; tampering with the archive is test/archive/archiveTampering.test.ts.
    env: { HISTORY_ARCHIVE: "off", LEDGER_HMAC_KEY: "chaos-hmac-key", LEDGER_VERIFY_INTERVAL_MS: "500", LEDGER_FULL_VERIFY_INTERVAL_MS: "1000" }
  })
  client = chaosClient(service.grpcAddress)
  admin = new Redis(redis.url, { maxRetriesPerRequest: 1 })
}, 90_000)

afterAll(async () => {
  client?.close()
  admin?.disconnect()
  await service?.terminate()
  await redis?.dispose()
  if (service) removeDir(service.dataDir)
})

/** A wallet with a 6-entry chain: GRANT 100, then five deposits of 10. */
const victim = async (id: string) => {
  await client.must("EnsureAccount", { account_id: id, initial_balance: "100" })
  for (let i = 1; i <= 5; i++) {
    const r = await client.must("Deposit", { account_id: id, amount: "10", idempotency_key: `${id}-dep-${i}`, source: "ADMIN" })
    assert.isTrue(r.ok, `${id} deposit ${i}: ${r.error}`)
  }
  return walletKey(id)
}

const entryAt = async (account: string, index: number) =>
  JSON.parse((await admin.lindex(keys.ledger(account), index))!) as Record<string, unknown> & { seq: number; checksum: string }

interface Case {
  readonly name: string
  readonly account: string
  /** Edits Redis directly. */
  readonly tamper: (account: string) => Promise<unknown>
  /** Which finding on this account counts as "found it at the right place". */
  readonly expected: (f: LogLine) => boolean
}

const findingsFor = (account: string, since: number) =>
  service.logs.slice(since).filter((l) => l.message === "ledger verification finding" && l.account === account)

const findingsMetric = async () => {
  const m = parseMetrics(await service.metrics())
  return (kind: string) => metric(m, "balance_ledger_verification_failures_total", { kind })
}

describe("tampering in Redis is reported by the running service's verification job", () => {
  it("edited amount, deleted entry, swapped entries, balance without entry, truncated HMAC chain: each found with account and seq", async () => {
    const cases: ReadonlyArray<Case> = [
      {
        name: "edit an entry's amount",
        account: await victim("victim-edit"),
        tamper: async (account) => {
          const e = await entryAt(account, 2) // seq 3, a deposit of 10
          e.amount = (e.amount as number) + 1000
          e.balanceAfter = (e.balanceAfter as number) + 1000
          await admin.lset(keys.ledger(account), 2, JSON.stringify(e))
        },
        expected: (f) => f.seq === 3 && f.kind === "BAD_CHECKSUM"
      },
      {
        name: "delete an entry",
        account: await victim("victim-delete"),
        tamper: async (account) => {
          const raw = await admin.lindex(keys.ledger(account), 3) // seq 4
          await admin.lrem(keys.ledger(account), 1, raw!)
        },
        // The entry after the hole: expected seq 4, found 5.
        expected: (f) => f.seq === 5 && f.kind === "SEQ_GAP"
      },
      {
        name: "swap two entries",
        account: await victim("victim-swap"),
        tamper: async (account) => {
          const [a, b] = await Promise.all([admin.lindex(keys.ledger(account), 1), admin.lindex(keys.ledger(account), 2)])
          await admin.multi().lset(keys.ledger(account), 1, b!).lset(keys.ledger(account), 2, a!).exec()
        },
        expected: (f) => (f.seq === 2 || f.seq === 3) && f.kind === "SEQ_GAP"
      },
      {
        name: "change a balance without an entry",
        account: await victim("victim-balance"),
        tamper: async (account) => {
          const w = JSON.parse((await admin.hget(keys.object(account), "d"))!) as Record<string, unknown>
          w.balance = (w.balance as number) + 500
          await admin.hset(keys.object(account), "d", JSON.stringify(w))
        },
        // The head no longer matches where its chain (6 entries) ends.
        expected: (f) => f.seq === 6 && f.kind === "HEAD_MISMATCH"
      },
      {
        name: "truncate a chain (HMAC key set)",
        account: await victim("victim-truncate"),
        tamper: (account) => admin.ltrim(keys.ledger(account), 0, 3), // keeps seq 1..4
        expected: (f) => f.seq === 4 && f.kind === "HEAD_MISMATCH"
      }
    ]
    // Some honest traffic on other wallets, and one clean full pass before anything is touched.
    await victim("bystander")
    await eventually("a clean full verification pass", async () => {
      const m = parseMetrics(await service.metrics())
      return metric(m, "balance_ledger_verification_runs_total", { mode: "full", result: "ok" }) >= 1 ? true : undefined
    }, { timeoutMs: 30_000, intervalMs: 200 })
    assert.deepStrictEqual(service.logs.filter((l) => l.message === "ledger verification finding"), [])

    const outcomes: Array<{ name: string; account: string; found: LogLine | undefined; all: Array<LogLine> }> = []
    for (const c of cases) {
      const since = service.logs.length
      await c.tamper(c.account)
      const found = await eventually(`a finding for ${c.account} (${c.name})`, () => findingsFor(c.account, since).find(c.expected), {
        timeoutMs: 20_000,
        intervalMs: 100
      }).catch(() => undefined)
      outcomes.push({ name: c.name, account: c.account, found, all: findingsFor(c.account, since) })
    }

    const kindCount = await findingsMetric()
    const detected = outcomes.filter((o) => o.found !== undefined)
    for (const o of outcomes) {
      const kinds = [...new Set(o.all.map((f) => `${f.kind}@${f.seq}`))].join(", ")
      console.log(`[chaos tamper] ${o.name} on ${o.account}: ${o.found ? `found (${o.found.kind} at seq ${o.found.seq}, mode ${o.found.mode})` : "NOT FOUND"}; all findings: ${kinds || "none"}`)
    }
    console.log(`[chaos tamper] detected ${detected.length}/${cases.length} by the background job (with account and seq)`)
    // Nothing was attributed to the bystander, and the metric counted what the logs said.
    assert.deepStrictEqual(service.logs.filter((l) => l.message === "ledger verification finding" && l.account === walletKey("bystander")), [])
    for (const o of detected) assert.isAbove(kindCount(o.found!.kind as string), 0, `metric for ${o.found!.kind}`)
    assert.isAbove(kindCount("ZERO_SUM_VIOLATION"), 0, "a balance changed without an entry breaks the zero sum")
    assert.deepStrictEqual(outcomes.filter((o) => !o.found).map((o) => o.name), [])
  }, 110_000)

  it("beyond the brief: a truncated chain whose head is rewritten to match is caught only by the zero sum, without an account", async () => {
    const account = await victim("victim-rewrite")
    const runsBefore = parseMetrics(await service.metrics())
    const fullRuns = (m: Map<string, number>) => metric(m, "balance_ledger_verification_runs_total", { mode: "full", result: "findings" })
    const since = service.logs.length
    // Keep seq 1..4 and make the head say exactly what entry 4 says: chain and head agree again.
    const last = await entryAt(account, 3)
    await admin.ltrim(keys.ledger(account), 0, 3)
    const w = JSON.parse((await admin.hget(keys.object(account), "d"))!) as Record<string, unknown>
    await admin.hset(keys.object(account), "d", JSON.stringify({ ...w, seq: last.seq, checksum: last.checksum, balance: last.balanceAfter, held: last.heldAfter }))
    // Two full passes after the edit, so that anything the job can see it has logged.
    await eventually("two full passes after the edit", async () => {
      const m = parseMetrics(await service.metrics())
      return fullRuns(m) >= fullRuns(runsBefore) + 2 ? true : undefined
    }, { timeoutMs: 20_000, intervalMs: 100 })
    const onAccount = findingsFor(account, since)
    const zeroSum = service.logs.slice(since).filter((l) => l.message === "ledger verification finding" && l.kind === "ZERO_SUM_VIOLATION")
    console.log(
      `[chaos tamper] truncate + rewrite the head (HMAC key set) on ${account}: ` +
        `${onAccount.length > 0 ? "found on the account" : "nothing on the account"}; ` +
        `zero-sum findings: ${zeroSum.length > 0 ? zeroSum[zeroSum.length - 1]!.detail : "none"}`
    )
    // The chips the two removed deposits added are missing from the sum: the job does see that something is wrong.
    assert.isAbove(zeroSum.length, 0)
  }, 60_000)
})

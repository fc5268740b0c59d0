/**
 * apply.lua's guard checks only the totals of KEYS and ARGV, so two runs of the same size read in
 * the wrong order would pass it. Here every run of a plan has its own, nonzero size, the call is
 * built from scriptLayouts.ts and run on a real redis-server, and every item is read back where
 * the script must have put it: a run read at another run's offset lands somewhere else.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Redis } from "ioredis"
import type { LedgerEntry } from "../../src/domain/ledgerEntry.ts"
import type { Plan, StatName } from "../../src/domain/plan.ts"
import type { Transfer } from "../../src/domain/transfer.ts"
import { readLuaScript } from "../../src/store/redis/luaScripts.ts"
import { redisKeys } from "../../src/store/redis/redisKeys.ts"
import { scriptCall } from "../../src/store/redis/scriptLayout.ts"
import { applyLayout, applyPlanLayout } from "../../src/store/redis/scriptLayouts.ts"
import type { ApplyRequest } from "../../src/store/Store.ts"
import { startTestRedisServer, type TestRedisServer } from "../support/redisServer.ts"
import { fingerprintOf } from "../support/fingerprints.ts"

const range = <A>(n: number, f: (i: number) => A): Array<A> => Array.from({ length: n }, (_, i) => f(i))

const STAT_NAMES: ReadonlyArray<StatName> = ["minted", "burned", "raked"]

/** Sizes 1..10, each run its own (system and stats are capped by their names: 1 and 3). */
const distinctPlan = (): Plan => ({
  system: [{ account: "mint", delta: 7 }],
  expected: range(2, (i) => ({ key: `w:exp${i}`, version: 0 })),
  stats: range(3, (i) => ({ name: STAT_NAMES[i]!, delta: 10 + i })),
  closedAccounts: range(4, (i) => ({ account: `p:t:closed${i}`, closedAt: 5_000 + i })),
  expiryRemove: range(5, (i) => `old${i}`),
  newAccounts: range(6, (i) => `w:new${i}`),
  // The expected keys are written too: a second apply then conflicts on them.
  writes: range(7, (i) => ({ key: i < 2 ? `w:exp${i}` : `w:obj${i}`, version: 1, value: { n: i } as never })),
  expiryAdd: range(8, (i) => ({ reservationId: `new${i}`, expiresAt: 9_000 + i })),
  entries: range(9, (i) => ({ accountId: `w:led${i}`, seq: 1, n: i }) as unknown as LedgerEntry),
  transfers: range(10, (i) => ({ transferId: `t${i}`, from: `w:from${i}`, to: `w:to${i}` }) as unknown as Transfer),
  response: { ok: true }
})

describe("apply.lua reads every run of its call where scriptLayouts.ts puts it", () => {
  let server: TestRedisServer
  let redis: Redis
  beforeAll(async () => {
    server = await startTestRedisServer()
    redis = new Redis(server.url)
  })
  afterAll(async () => {
    redis.disconnect()
    await server.dispose()
  })

  const run = (request: ApplyRequest, prefix: string, deadlineMs: number) => {
    const plan = scriptCall(applyPlanLayout, { request, keys: redisKeys(prefix), deadlineMs, compactIdempotency: false })
    const { keys, args } = scriptCall(applyLayout, { keys: redisKeys(prefix), eventsMaxLen: 1000, plans: [plan] })
    // A batch of one: its one reply.
    return redis.eval(readLuaScript("apply.lua"), keys.length, ...keys, ...args).then((replies) => (replies as Array<unknown>)[0])
  }

  it("a plan with runs of ten different sizes lands field by field", async () => {
    const p = distinctPlan()
    const k = redisKeys("layout:")
    await redis.zadd(k.expiry, ...p.expiryRemove.flatMap((id) => [1, id]), 1, "kept")
    await redis.zadd(k.accounts, ...p.closedAccounts.flatMap((c) => [0, c.account]))
    const request: ApplyRequest = {
      plan: p,
      responseJson: "{\"ok\":true}",
      idempotency: { key: "idem-1", fingerprint: fingerprintOf("fp-1"), ttlMs: 60_000 }
    }
    assert.deepStrictEqual(await run(request, "layout:", Date.now() + 60_000), ["APPLIED"])

    for (const w of p.writes) {
      assert.deepStrictEqual(await redis.hgetall(k.object(w.key)), { v: "1", d: JSON.stringify(w.value) }, w.key)
    }
    for (const e of p.entries) assert.deepStrictEqual(await redis.lrange(k.ledger(e.accountId), 0, -1), [JSON.stringify(e)])
    for (const t of p.transfers) {
      assert.deepStrictEqual(await redis.lrange(k.transfers(t.from), 0, -1), [JSON.stringify(t)])
      assert.deepStrictEqual(await redis.lrange(k.transfers(t.to), 0, -1), [JSON.stringify(t)])
    }
    assert.deepStrictEqual(await redis.hgetall(k.system), { mint: "7" })
    assert.deepStrictEqual(await redis.hgetall(k.stats), Object.fromEntries(p.stats.map((s) => [s.name, String(s.delta)])))
    assert.deepStrictEqual(
      await redis.zrange(k.expiry, "0", "-1", "WITHSCORES"),
      ["kept", "1", ...p.expiryAdd.flatMap((x) => [x.reservationId, String(x.expiresAt)])]
    )
    assert.deepStrictEqual((await redis.zrange(k.accounts, "0", "-1")).sort(), [...p.newAccounts].sort())
    assert.deepStrictEqual(
      await redis.zrange(k.closed, "0", "-1", "WITHSCORES"),
      p.closedAccounts.flatMap((c) => [c.account, String(c.closedAt)])
    )
    const events = await redis.xrange(k.events, "-", "+")
    assert.strictEqual(events.length, 1)
    // The entries are stored once (the ledger lists above); the event references them.
    assert.deepStrictEqual(events[0]![1], [
      "entryRefs",
      JSON.stringify(p.entries.map((e) => [e.accountId, e.seq])),
      "transfers",
      JSON.stringify(p.transfers)
    ])
    assert.deepStrictEqual(await redis.hgetall(k.idempotency("idem-1")), { f: fingerprintOf("fp-1"), r: "{\"ok\":true}" })
    const ttl = await redis.pttl(k.idempotency("idem-1"))
    assert.isTrue(ttl > 0 && ttl <= 60_000, `TTL ${ttl}`)

    // The same key again: the record answers. Without a key: the expected versions are read, in order.
    assert.deepStrictEqual(await run(request, "layout:", 0), ["REPLAYED", "{\"ok\":true}"])
    assert.deepStrictEqual(
      await run({ ...request, idempotency: null }, "layout:", 0),
      ["CONFLICT", "1", JSON.stringify({ n: 0 }), "1", JSON.stringify({ n: 1 })]
    )
  })

  it("the deadline is read from its own position: one that passed writes nothing, one ahead writes", async () => {
    const request: ApplyRequest = { plan: distinctPlan(), responseJson: "{}", idempotency: null }
    assert.deepStrictEqual(await run(request, "late:", Date.now() - 60_000), ["LATE"])
    assert.deepStrictEqual(await redis.keys("late:*"), [])
    assert.deepStrictEqual(await run(request, "ontime:", Date.now() + 60_000), ["APPLIED"])
  })
})

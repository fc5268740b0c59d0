/**
 * apply.lua applies a batch of plans in one call, each with its own checks and its own reply:
 * here one call carries a plan of every outcome, on a real redis-server, and every refused plan
 * is shown to have written nothing while the plans around it did.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Redis } from "ioredis"
import type { LedgerEntry } from "../../src/domain/ledgerEntry.ts"
import type { Plan } from "../../src/domain/plan.ts"
import { readLuaScript } from "../../src/store/redis/luaScripts.ts"
import { redisKeys } from "../../src/store/redis/redisKeys.ts"
import { type ScriptCall, scriptCall } from "../../src/store/redis/scriptLayout.ts"
import { applyLayout, applyPlanLayout } from "../../src/store/redis/scriptLayouts.ts"
import { applyBatchReplies, applyResult } from "../../src/store/redis/scriptResults.ts"
import type { ApplyRequest } from "../../src/store/Store.ts"
import { startTestRedisServer, type TestRedisServer } from "../support/redisServer.ts"
import { fingerprintOf } from "../support/fingerprints.ts"

const MAX_SAFE = Number.MAX_SAFE_INTEGER

const emptyPlan: Plan = {
  system: [],
  expected: [],
  stats: [],
  closedAccounts: [],
  expiryRemove: [],
  newAccounts: [],
  writes: [],
  expiryAdd: [],
  entries: [],
  transfers: [],
  response: {}
}

/** A plan that expects `key` at `expectedVersion` and writes it (and an entry on it) at the next version. */
const writePlan = (key: string, expectedVersion: number, extra: Partial<Plan> = {}): Plan => ({
  ...emptyPlan,
  expected: [{ key, version: expectedVersion }],
  writes: [{ key, version: expectedVersion + 1, value: { key } as never }],
  entries: [{ accountId: key, seq: expectedVersion + 1 } as unknown as LedgerEntry],
  ...extra
})

describe("apply.lua: one call, many plans, each with its own outcome", () => {
  let server: TestRedisServer
  let redis: Redis
  const script = readLuaScript("apply.lua")
  beforeAll(async () => {
    server = await startTestRedisServer()
    redis = new Redis(server.url)
  })
  afterAll(async () => {
    redis.disconnect()
    await server.dispose()
  })

  const planCall = (prefix: string, request: ApplyRequest, deadlineMs = 0): ScriptCall =>
    scriptCall(applyPlanLayout, { request, keys: redisKeys(prefix), deadlineMs, compactIdempotency: false })
  const runBatch = async (prefix: string, plans: ReadonlyArray<ScriptCall>, eventsMaxLen = 1000) => {
    const { keys, args } = scriptCall(applyLayout, { keys: redisKeys(prefix), eventsMaxLen, plans })
    return applyBatchReplies(plans.length, await redis.eval(script, keys.length, ...keys, ...args))
  }

  it("applied, replayed, key reused, conflict, overflow, late and applied again, in one call", async () => {
    const k = redisKeys("mix:")
    await redis.hset(k.system, "mint", String(-MAX_SAFE + 1))
    const idem = (label: string) => ({ key: "k1", fingerprint: fingerprintOf(label), ttlMs: 60_000 })
    const requests: Array<[ApplyRequest, number]> = [
      // 1. applied, with an idempotency key
      [{ plan: writePlan("w:a", 0), responseJson: "{\"n\":1}", idempotency: idem("fp-1") }, 0],
      // 2. the same key and fingerprint: sees plan 1's record, in the same call
      [{ plan: writePlan("w:b", 0), responseJson: "{\"n\":2}", idempotency: idem("fp-1") }, 0],
      // 3. the same key, another fingerprint
      [{ plan: writePlan("w:c", 0), responseJson: "{}", idempotency: idem("fp-other") }, 0],
      // 4. planned against the version plan 1 replaced
      [{ plan: writePlan("w:a", 0, { writes: [{ key: "w:a", version: 1, value: {} as never }, { key: "w:d", version: 1, value: {} as never }] }), responseJson: "{}", idempotency: null }, 0],
      // 5. mint would leave the safe range
      [{ plan: writePlan("w:e", 0, { system: [{ account: "mint", delta: -2 }] }), responseJson: "{}", idempotency: null }, 0],
      // 6. its deadline has passed
      [{ plan: writePlan("w:f", 0), responseJson: "{}", idempotency: { key: "k6", fingerprint: fingerprintOf("fp-6"), ttlMs: 60_000 } }, Date.now() - 60_000],
      // 7. after all those refusals, applied (with a deadline ahead, and a mint delta that fits)
      [{ plan: writePlan("w:g", 0, { system: [{ account: "mint", delta: -1 }] }), responseJson: "{}", idempotency: null }, Date.now() + 60_000]
    ]
    const replies = await runBatch("mix:", requests.map(([r, deadline]) => planCall("mix:", r, deadline)))
    const outcomes = replies.map((reply, i) => applyResult(requests[i]![0].plan.expected.map((e) => e.key), reply))

    assert.deepStrictEqual(outcomes.map((o) => o._tag), ["Applied", "Replayed", "KeyReused", "Conflict", "Overflow", "Late", "Applied"])
    assert.deepStrictEqual(outcomes[1], { _tag: "Replayed", response: "{\"n\":1}" })
    const conflict = outcomes[3]
    assert.strictEqual(conflict?._tag, "Conflict")
    if (conflict?._tag === "Conflict") assert.deepStrictEqual(conflict.current.get("w:a"), { version: 1, value: { key: "w:a" } as never })
    assert.deepStrictEqual(outcomes[4], { _tag: "Overflow", account: "mint" })

    // What the applied plans wrote, and nothing of the refused ones.
    assert.deepStrictEqual(await redis.hgetall(k.object("w:a")), { v: "1", d: JSON.stringify({ key: "w:a" }) })
    assert.deepStrictEqual(await redis.hgetall(k.object("w:g")), { v: "1", d: JSON.stringify({ key: "w:g" }) })
    for (const refused of ["w:b", "w:c", "w:d", "w:e", "w:f"]) {
      assert.strictEqual(await redis.exists(k.object(refused), k.ledger(refused)), 0, refused)
    }
    assert.strictEqual(await redis.llen(k.ledger("w:a")), 1)
    assert.strictEqual(await redis.hget(k.system, "mint"), String(-MAX_SAFE))
    assert.deepStrictEqual(await redis.hgetall(k.idempotency("k1")), { f: fingerprintOf("fp-1"), r: "{\"n\":1}" })
    assert.strictEqual(await redis.exists(k.idempotency("k6")), 0)
    // One event per applied plan, in plan order.
    const events = await redis.xrange(k.events, "-", "+")
    assert.deepStrictEqual(events.map(([, fields]) => [fields[0], JSON.parse(fields[1]!)]), [["entryRefs", [["w:a", 1]]], ["entryRefs", [["w:g", 1]]]])
  })

  it("compares fingerprints across record forms in one call: compact plans on a hash record, a hash plan on a compact one", async () => {
    // Both directions go through the base64url-to-hex conversion, whose table the script builds on first use.
    const request = (key: string, label: string, key2 = "w:x"): ApplyRequest => ({
      plan: writePlan(key2, 0),
      responseJson: "{}",
      idempotency: { key, fingerprint: fingerprintOf(label), ttlMs: 60_000 }
    })
    const call = (r: ApplyRequest, compactIdempotency: boolean) =>
      scriptCall(applyPlanLayout, { request: r, keys: redisKeys("forms:"), deadlineMs: 0, compactIdempotency })
    const replies = await runBatch("forms:", [
      call(request("h", "fp-h", "w:1"), false), // hash record written
      call(request("h", "fp-h", "w:2"), true), // compact plan, same fingerprint
      call(request("h", "fp-other", "w:3"), true), // compact plan, another fingerprint
      call(request("c", "fp-c", "w:4"), true), // compact record written
      call(request("c", "fp-c", "w:5"), false), // hash plan, same fingerprint
      call(request("c", "fp-other", "w:6"), false) // hash plan, another fingerprint
    ])
    assert.deepStrictEqual(replies.map((r) => (r as Array<string>)[0]), ["APPLIED", "REPLAYED", "KEY_REUSED", "APPLIED", "REPLAYED", "KEY_REUSED"])
    const k = redisKeys("forms:")
    for (const refused of ["w:2", "w:3", "w:5", "w:6"]) assert.strictEqual(await redis.exists(k.object(refused)), 0, refused)
  })

  it("a batch of one is a single apply", async () => {
    const replies = await runBatch("one:", [planCall("one:", { plan: writePlan("w:a", 0), responseJson: "{}", idempotency: null })])
    assert.deepStrictEqual(replies, [["APPLIED"]])
  })

  it("takes every safe integer as the stream cap: with the archive on the service sends Number.MAX_SAFE_INTEGER (16 digits)", async () => {
    const replies = await runBatch("cap:", [planCall("cap:", { plan: writePlan("w:a", 0), responseJson: "{}", idempotency: null })], MAX_SAFE)
    assert.deepStrictEqual(replies, [["APPLIED"]])
    assert.strictEqual((await redis.xrange(redisKeys("cap:").events, "-", "+")).length, 1)
  })

  it("system balances and counters are summed over the batch and written once, exactly, even past 2^53 in total", async () => {
    const k = redisKeys("sums:")
    await redis.hset(k.system, "rake", "5")
    await redis.hset(k.stats, "minted", "1")
    const plan = (n: number, delta: number): ApplyRequest => ({
      plan: writePlan(`w:${n}`, 0, { system: [{ account: "rake", delta }], stats: [{ name: "minted", delta: MAX_SAFE }] }),
      responseJson: "{}",
      idempotency: null
    })
    // rake: 5 + (MAX-5) = MAX, then -MAX: 0, then +1 would stay, +MAX would leave the range (plan 4 refused).
    const replies = await runBatch("sums:", [plan(1, MAX_SAFE - 5), plan(2, -MAX_SAFE), plan(3, 1), plan(4, MAX_SAFE)].map((r) => planCall("sums:", r)))
    assert.deepStrictEqual(replies.map((r) => (r as ReadonlyArray<string>)[0]), ["APPLIED", "APPLIED", "APPLIED", "OVERFLOW"])
    assert.strictEqual(await redis.hget(k.system, "rake"), "1")
    // Three applied plans counted MAX_SAFE each on top of 1: 3 * (2^53 - 1) + 1, exact.
    assert.strictEqual(await redis.hget(k.stats, "minted"), (3n * BigInt(MAX_SAFE) + 1n).toString())
  })
})

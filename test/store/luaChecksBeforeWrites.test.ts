/**
 * Redis does not roll a script back when it fails halfway, so every argument a
 * script uses in a late write is checked before its first write: a malformed
 * call leaves the keys exactly as they were.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Redis } from "ioredis"
import type { Plan } from "../../src/domain/plan.ts"
import { readLuaScript } from "../../src/store/redis/luaScripts.ts"
import { redisKeys } from "../../src/store/redis/redisKeys.ts"
import { type ScriptCall, scriptCall } from "../../src/store/redis/scriptLayout.ts"
import { applyLayout, applyPlanLayout } from "../../src/store/redis/scriptLayouts.ts"
import { startTestRedisServer, type TestRedisServer } from "../support/redisServer.ts"
import { fingerprintOf } from "../support/fingerprints.ts"

describe("Lua scripts refuse a malformed call before their first write", () => {
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

  it("trim.lua: a bad stream id leaves the ledger list and the trim state untouched", async () => {
    await redis.rpush("ledger:w:a", JSON.stringify({ seq: 1, checksum: "c1" }), JSON.stringify({ seq: 2, checksum: "c2" }))
    const keys = ["trimmed", "events", "ledger:w:a", "transfers:w:a"]
    const args = ["0", "not-an-id", "1-1", "1", "w:a", "1", "c1", "0", "0"]
    const error = await redis.eval(readLuaScript("trim.lua"), keys.length, ...keys, ...args).then(() => null, (e: Error) => e)
    assert.include(String(error?.message), "stream ids")
    assert.strictEqual(await redis.llen("ledger:w:a"), 2)
    assert.strictEqual(await redis.exists("trimmed"), 0)
  })

  describe("apply.lua: a batch with one malformed plan writes nothing, not even the well-formed plans before it", () => {
    const plan = (n: number): Plan => ({
      system: [{ account: "mint", delta: -n }],
      expected: [{ key: `w:${n}`, version: 0 }],
      stats: [{ name: "minted", delta: n }],
      closedAccounts: [],
      expiryRemove: [],
      newAccounts: [],
      writes: [{ key: `w:${n}`, version: 1, value: { n } as never }],
      expiryAdd: [],
      entries: [],
      transfers: [],
      response: {}
    })
    const k = redisKeys("batch:")
    const good = (n: number) =>
      scriptCall(applyPlanLayout, {
        request: { plan: plan(n), responseJson: "{}", idempotency: { key: `k${n}`, fingerprint: fingerprintOf("fp"), ttlMs: 1000 } },
        keys: k,
        deadlineMs: 0,
        compactIdempotency: false
      })
    /** Plan 2's arguments with one of them replaced (its positions: apply.lua's Plan ARGV). */
    const withArg = (call: ScriptCall, at: number, value: string): ScriptCall => ({
      keys: call.keys,
      args: call.args.map((a, i) => (i === at ? value : a))
    })
    // Plan ARGV of `good`, as apply.lua numbers them: 1 mode, 2 fingerprint, 3 response, 4 TTL, 5 deadline, 6-15 counts,
    // 16 entryRefs, 17 expected version, 18-19 write, 20-21 system, 22-23 stat; withArg counts from 0 (one less).
    const cases: ReadonlyArray<[string, (call: ScriptCall) => ScriptCall, string]> = [
      ["a stat delta that is not an integer", (c) => withArg(c, 22, "5x"), "stat delta"],
      ["a system delta that is not an integer", (c) => withArg(c, 20, "1.5"), "system delta"],
      ["a system account that is none", (c) => withArg(c, 19, "house"), "system account"],
      ["a write's version that is not a number", (c) => withArg(c, 17, "one"), "version"],
      ["a TTL of 0", (c) => withArg(c, 3, "0"), "TTL"],
      ["a deadline that is not a number", (c) => withArg(c, 4, "soon"), "deadline"],
      ["a mode that is none", (c) => withArg(c, 0, "3"), "mode"],
      ["a count that runs past ARGV", (c) => withArg(c, 5, "9"), "run past"],
      // Plan 3 is then read one argument off: its mode is not one.
      ["one argument too many in plan 2", (c) => ({ keys: c.keys, args: [...c.args, "extra"] }), "plan 3"],
      ["one key too few in plan 2 (plan 3 runs past KEYS)", (c) => ({ keys: c.keys.slice(1), args: c.args }), "run past KEYS"],
      // A compact record (mode 2) is read back by its layout: a 22-character fingerprint, then a response starting with "~".
      ["a compact record with a hex fingerprint", (c) => withArg(withArg(c, 0, "2"), 2, "~[\"\"]"), "compact record"],
      ["a compact record with a JSON response", (c) => withArg(withArg(c, 0, "2"), 1, "AAAAAAAAAAAAAAAAAAAAAA"), "compact record"]
    ]
    for (const [what, spoil, message] of cases) {
      it(what, async () => {
        await redis.flushdb()
        const { keys, args } = scriptCall(applyLayout, { keys: k, eventsMaxLen: 100, plans: [good(1), spoil(good(2)), good(3)] })
        const error = await redis.eval(readLuaScript("apply.lua"), keys.length, ...keys, ...args).then(() => null, (e: Error) => e)
        assert.include(String(error?.message), message)
        assert.deepStrictEqual(await redis.keys("batch:*"), [])
      })
    }
    it("the same batch unspoilt applies all three (the cases above differ from it by one argument)", async () => {
      await redis.flushdb()
      const { keys, args } = scriptCall(applyLayout, { keys: k, eventsMaxLen: 100, plans: [good(1), good(2), good(3)] })
      assert.deepStrictEqual(await redis.eval(readLuaScript("apply.lua"), keys.length, ...keys, ...args), [["APPLIED"], ["APPLIED"], ["APPLIED"]])
      assert.strictEqual(await redis.hget(k.system, "mint"), "-6")
    })
    it("a stream cap that is not a number, or no plan at all", async () => {
      await redis.flushdb()
      const { keys, args } = scriptCall(applyLayout, { keys: k, eventsMaxLen: 100, plans: [good(1)] })
      const badCap = await redis.eval(readLuaScript("apply.lua"), keys.length, ...keys, args[0]!, "lots", ...args.slice(2)).then(() => null, (e: Error) => e)
      assert.include(String(badCap?.message), "stream cap")
      const none = await redis.eval(readLuaScript("apply.lua"), 6, ...keys.slice(0, 6), "0", "100").then(() => null, (e: Error) => e)
      assert.include(String(none?.message), "nPlans")
      assert.deepStrictEqual(await redis.keys("batch:*"), [])
    })
  })

  it("compact.lua: one malformed marker or version leaves every pot of the call whole, the well-formed ones before it too", async () => {
    await redis.flushdb()
    const pot = (handId: string) => ({
      kind: "pot", tableId: "t", handId, balance: 0, status: "SETTLED", contributions: [{ seatId: 1, accountId: "a", amount: 5 }],
      createdAt: 1, closedAt: 2, seq: 2, checksum: `c-${handId}`
    })
    const marker = (handId: string) => JSON.stringify({ ...pot(handId), contributions: [], archived: true })
    for (const h of ["h1", "h2"]) await redis.hset(`obj:p:t:${h}`, "v", "3", "d", JSON.stringify(pot(h)))
    const run = (args: ReadonlyArray<string>) =>
      redis.eval(readLuaScript("compact.lua"), 2, "obj:p:t:h1", "obj:p:t:h2", ...args).then(() => null, (e: Error) => e)
    const cases: ReadonlyArray<[ReadonlyArray<string>, string]> = [
      [["2", "3", marker("h1"), "3", JSON.stringify({ ...pot("h2"), archived: true })], "marker of object 2"],
      [["2", "3", marker("h1"), "3", JSON.stringify({ ...pot("h2"), contributions: [], archived: true, status: "CANCELLED" })], "marker of object 2"],
      [["2", "3", marker("h1"), "3", "{not json"], "marker of object 2"],
      [["2", "3", marker("h1"), "3.0", marker("h2")], "version of object 2"],
      [["2", "3", marker("h1"), "3"], "expected"]
    ]
    for (const [args, message] of cases) {
      assert.include(String((await run(args))?.message), message)
      for (const h of ["h1", "h2"]) assert.deepStrictEqual(await redis.hgetall(`obj:p:t:${h}`), { v: "3", d: JSON.stringify(pot(h)) })
    }
    // The same call unspoilt replaces both.
    assert.deepStrictEqual(
      await redis.eval(readLuaScript("compact.lua"), 2, "obj:p:t:h1", "obj:p:t:h2", "2", "3", marker("h1"), "3", marker("h2")),
      ["COMPACTED", "", ""]
    )
    assert.deepStrictEqual(await redis.hgetall("obj:p:t:h2"), { v: "3", d: marker("h2") })
  })

  it("retire.lua: one malformed number removes nothing, not even the well-formed objects before it", async () => {
    await redis.flushdb()
    const reservation = (id: string) => JSON.stringify({ kind: "reservation", reservationId: id, status: "RELEASED", closedAt: 2 })
    for (const id of ["a", "b"]) await redis.hset(`obj:r:${id}`, "v", "2", "d", reservation(id))
    await redis.set("lease", "me 7")
    const keys = ["lease", "trimmed", "closed", "obj:r:a", "ledger:r:a", "transfers:r:a", "obj:r:b", "ledger:r:b", "transfers:r:b"]
    const run = (args: ReadonlyArray<string>) => redis.eval(readLuaScript("retire.lua"), keys.length, ...keys, ...args).then(() => null, (e: Error) => e)
    const cases: ReadonlyArray<[ReadonlyArray<string>, string]> = [
      [["me 7", "2", "r:a", "2", "0", "0", "r:b", "2.0", "0", "0"], "object 2"],
      [["me 7", "2", "r:a", "2", "0", "0", "r:b", "2", "-1", "0"], "object 2"],
      [["me 7", "2", "r:a", "2", "0", "0", "r:b", "2", "0"], "expected"]
    ]
    for (const [args, message] of cases) {
      assert.include(String((await run(args))?.message), message)
      for (const id of ["a", "b"]) assert.deepStrictEqual(await redis.hgetall(`obj:r:${id}`), { v: "2", d: reservation(id) })
    }
    assert.deepStrictEqual(
      await redis.eval(readLuaScript("retire.lua"), keys.length, ...keys, "me 7", "2", "r:a", "2", "0", "0", "r:b", "2", "0", "0"),
      ["RETIRED", "", ""]
    )
    assert.strictEqual(await redis.exists("obj:r:a", "obj:r:b"), 0)
    await redis.del("lease")
  })

  it("lease.lua: a bad duration draws no token", async () => {
    const error = await redis.eval(readLuaScript("lease.lua"), 2, "lease", "token", "acquire", "me", "soon").then(() => null, (e: Error) => e)
    assert.include(String(error?.message), "lease duration")
    assert.strictEqual(await redis.exists("lease", "token"), 0)
  })
})

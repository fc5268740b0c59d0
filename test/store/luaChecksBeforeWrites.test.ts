/**
 * Redis does not roll a script back when it fails halfway, so every argument a
 * script uses in a late write is checked before its first write: a malformed
 * call leaves the keys exactly as they were.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Redis } from "ioredis"
import { readLuaScript } from "../../src/store/redis/luaScripts.ts"
import { startTestRedisServer, type TestRedisServer } from "../support/redisServer.ts"

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

  it("lease.lua: a bad duration draws no token", async () => {
    const error = await redis.eval(readLuaScript("lease.lua"), 2, "lease", "token", "acquire", "me", "soon").then(() => null, (e: Error) => e)
    assert.include(String(error?.message), "lease duration")
    assert.strictEqual(await redis.exists("lease", "token"), 0)
  })
})

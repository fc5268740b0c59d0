/**
 * GetPot (gRPC) and the admin pot route (HTTP) answer a settled pot the same before and after the
 * archiver replaced it in Redis by its marker (issue 14), on one Redis and PostgreSQL with the
 * archiver running every 20 ms, as HISTORY_ARCHIVE=on runs it.
 */
import { assert, layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { Redis } from "ioredis"
import { redisKeys } from "../../src/store/redis/redisKeys.ts"
import { admin } from "../http/support/client.ts"
import { TestHttpServer } from "../http/support/testServer.ts"
import { archivingStoreLayer } from "../support/archivingStore.ts"
import { freshDatabase } from "../support/historyFixtures.ts"
import { TestPostgres } from "../support/postgresServer.ts"
import { TestRedis } from "../support/redisServer.ts"
import { contribute, key, seated } from "./support/contractIt.ts"
import { call, eventually, ok } from "./support/expectations.ts"
import { grpcServerOn } from "./support/grpcTestServer.ts"

const PREFIX = "archived-pot-reads:"

// One Redis and PostgreSQL, and one store on them under both servers (each layer value is built once).
const databases = Layer.mergeAll(TestRedis.layer, TestPostgres.layer)
const store = Layer.unwrap(
  Effect.gen(function*() {
    const server = yield* TestRedis
    return archivingStoreLayer(server.url, PREFIX, yield* freshDatabase)
  })
).pipe(Layer.provide(databases))
const servers = Layer.mergeAll(grpcServerOn(store), TestHttpServer.layer(store)).pipe(Layer.provideMerge(databases))

/** Whether Redis holds the pot as its marker (the archiver compacted it). */
const isMarker = (tableId: string, handId: string) =>
  Effect.gen(function*() {
    const server = yield* TestRedis
    const redis = new Redis(server.url)
    try {
      const json = yield* Effect.promise(() => redis.hget(redisKeys(PREFIX).object(`p:${tableId}:${handId}`), "d"))
      return json !== null && (JSON.parse(json) as { archived?: boolean }).archived === true
    } finally {
      redis.disconnect()
    }
  })

layer(servers, { timeout: 60_000, excludeTestServices: true })("an archived settled pot over the APIs", (it) => {
  it.effect("GetPot and GET /api/admin/tables/{table}/hands/{hand}/pot answer the same before and after compaction; a late contribution is POT_NOT_ACTIVE", () =>
    Effect.gen(function*() {
      const table = "t-archived"
      yield* seated("ar-a", table, 1000, 500)
      yield* seated("ar-b", table, 1000, 500)
      yield* seated("ar-c", table, 1000, 500)
      for (const [seat, account, amount] of [[1, "ar-a", 300], [2, "ar-b", 200], [3, "ar-c", 100]] as const) {
        assert.isTrue((yield* contribute(table, "h1", seat, account, amount)).ok)
      }
      yield* ok("SettlePot", {
        table_id: table, hand_id: "h1", winners: [{ seat_id: 2, account_id: "ar-b", amount: "600" }], idempotency_key: key("s")
      })
      // Read right after the settle: the archiver (every 20 ms) may not have committed it yet.
      const grpcBefore = yield* ok("GetPot", { table_id: table, hand_id: "h1", folded_seats: [3] })
      const httpBefore = yield* admin.get(`/api/admin/tables/${table}/hands/h1/pot?folded=3`)
      assert.strictEqual(httpBefore.status, 200)
      assert.strictEqual(grpcBefore.contributions.length, 3)
      yield* eventually("the archiver replaced the settled pot by its marker in Redis", isMarker(table, "h1"))
      assert.deepStrictEqual(yield* ok("GetPot", { table_id: table, hand_id: "h1", folded_seats: [3] }), grpcBefore)
      const httpAfter = yield* admin.get(`/api/admin/tables/${table}/hands/h1/pot?folded=3`)
      assert.deepStrictEqual([httpAfter.status, httpAfter.body], [httpBefore.status, httpBefore.body])
      const late = yield* contribute(table, "h1", 1, "ar-a", 10)
      assert.deepInclude(late, { ok: false, error: "POT_NOT_ACTIVE" })
      const again = yield* call("SettlePot", {
        table_id: table, hand_id: "h1", winners: [{ seat_id: 1, account_id: "ar-a", amount: "1" }], idempotency_key: key("s")
      })
      assert.deepInclude(again, { ok: false, error: "POT_NOT_ACTIVE" })
      assert.deepStrictEqual(yield* ok("GetPot", { table_id: table, hand_id: "h1", folded_seats: [3] }), grpcBefore)
    }))
})

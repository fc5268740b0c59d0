/**
 * Each ledger entry is stored once in Redis, in its account's list; a stream event references its
 * entries (`entryRefs`) and events.lua reads them back. Here, on a real redis-server: the stored
 * event holds references and no entry, the page gives the entries back after the lists were
 * trimmed from the left, events of earlier versions (entries inside) still read, and a reference
 * to an entry Redis no longer holds fails the read instead of giving a page without it.
 */
import { assert, layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { redisKeys } from "../../src/store/redis/redisKeys.ts"
import { RedisStore } from "../../src/store/redis/RedisStore.ts"
import { Store } from "../../src/store/Store.ts"
import { TestRedis } from "../support/redisServer.ts"
import { deposit, ensure } from "./planFixtures.ts"

const storeOn = (keyPrefix: string) =>
  Layer.unwrap(
    Effect.gen(function*() {
      const server = yield* TestRedis
      return RedisStore.layer({ url: server.url, keyPrefix, retryAttempts: 1, commandTimeoutMs: 1000 })
    })
  )

layer(TestRedis.layer, { excludeTestServices: true })("Events reference their entries", (it) => {
  it.effect("the stream holds references, the page the entries, also after the lists were trimmed from the left", () =>
    Effect.gen(function*() {
      const raw = yield* TestRedis.rawClient
      const keys = redisKeys("refs:")
      const pages = yield* Effect.gen(function*() {
        const store = yield* Store
        yield* ensure("ann", 100)
        yield* ensure("bob", 50)
        for (let i = 1; i <= 4; i++) yield* deposit("ann", i)
        const before = yield* store.events(null, 100)
        // What an archiver's trim leaves: ann's first three entries gone from the list's left.
        yield* Effect.promise(() => raw.lpop(keys.ledger("w:ann"), 3))
        yield* Effect.promise(() => raw.hset(keys.trimmed, "e:w:ann", "3"))
        const after = yield* store.eventsAfter(before.items[1]!.id, 100)
        return { before, after }
      }).pipe(Effect.provide(storeOn("refs:")))

      const stored = yield* Effect.promise(() => raw.xrange(keys.events, "-", "+"))
      assert.strictEqual(stored.length, 6)
      for (const [, fields] of stored) {
        assert.strictEqual(fields[0], "entryRefs")
        assert.notInclude(fields.join(" "), "checksum", "no entry is stored in the stream")
      }
      // Newest first: the four deposits on ann (seq 2..5), then bob's and ann's openings.
      const seqs = pages.before.items.map((e) => e.entries.map((x) => `${x.accountId}@${x.seq}`))
      assert.deepStrictEqual(seqs, [["w:ann@5"], ["w:ann@4"], ["w:ann@3"], ["w:ann@2"], ["w:bob@1"], ["w:ann@1"]])
      assert.deepStrictEqual(pages.before.items[0]!.entries[0]!.amount, 4)
      // After the trim: the events after the 4th-newest still read, entries resolved at their new places.
      assert.deepStrictEqual(pages.after.map((e) => e.entries.map((x) => `${x.accountId}@${x.seq}`)), [["w:ann@5"]])
      assert.deepStrictEqual(pages.after[0]!.entries[0], pages.before.items[0]!.entries[0])
    }))

  it.effect("an event of an earlier version (its entries inside) reads as it was written, its outline from its entries", () =>
    Effect.gen(function*() {
      const raw = yield* TestRedis.rawClient
      const keys = redisKeys("old-events:")
      const entry = { entryId: "e1", accountId: "w:cy", seq: 1, amount: 5 }
      const transfer = { transferId: "t1", type: "GRANT", from: "x:mint", to: "w:cy", amount: 5 }
      const id = yield* Effect.promise(() =>
        raw.xadd(keys.events, "*", "entries", JSON.stringify([entry]), "transfers", JSON.stringify([transfer]))
      )
      const [page, after, outlines] = yield* Store.use((s) => Effect.all([s.events(null, 10), s.eventsAfter("0", 10), s.eventOutlinesAfter("0", 10)])).pipe(
        Effect.provide(storeOn("old-events:"))
      )
      assert.deepStrictEqual(page.items, [{ id: id!, entries: [entry as never], transfers: [transfer as never] }])
      assert.deepStrictEqual(after, page.items)
      assert.deepStrictEqual(outlines, [{ id: id!, entries: [{ accountId: "w:cy", seq: 1 }], transfers: [transfer as never] }])
    }))

  it.effect("a reference to an entry Redis does not hold fails the read (a page newest first, and eventsAfter), naming it", () =>
    Effect.gen(function*() {
      const raw = yield* TestRedis.rawClient
      const keys = redisKeys("lost:")
      const failure = yield* Effect.gen(function*() {
        yield* ensure("dee", 10)
        yield* Effect.promise(() => raw.del(keys.ledger("w:dee")))
        return [
          yield* Effect.flip(Store.use((s) => s.events(null, 10))),
          yield* Effect.flip(Store.use((s) => s.eventsAfter("0", 10)))
        ]
      }).pipe(Effect.provide(storeOn("lost:")))
      for (const f of failure) {
        assert.strictEqual(f._tag, "StoreUnavailable")
        assert.include(String((f as { reason?: string }).reason ?? f.message), "references entry 1 of w:dee")
      }
    }))
})

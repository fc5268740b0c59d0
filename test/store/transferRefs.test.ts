/**
 * Each transfer is stored once in Redis while the stream is uncapped (HISTORY_ARCHIVE=on): in its
 * event; the transfer lists of both accounts hold "<event id>#<position>" (apply.lua) and
 * transfers.lua resolves them. Here, on a real redis-server: the store conformance suite in that
 * mode, what the lists hold and weigh, lists that mix elements of earlier versions (in full) with
 * references, a reference the stream cannot resolve, trims that must not leave a kept list
 * referencing a removed event, and HISTORY_ARCHIVE=off, where the capped stream cannot be referenced.
 */
import { assert, layer } from "@effect/vitest"
import { ConfigProvider, Effect, Layer } from "effect"
import { Redis } from "ioredis"
import type { Transfer } from "../../src/domain/transfer.ts"
import { redisKeys } from "../../src/store/redis/redisKeys.ts"
import { RedisStore } from "../../src/store/redis/RedisStore.ts"
import { UNCAPPED_STREAM } from "../../src/store/redis/redisStoreOptions.ts"
import { Store, transferRef } from "../../src/store/Store.ts"
import { TestRedis } from "../support/redisServer.ts"
import { deposit, ensure } from "./planFixtures.ts"
import { storeConformance } from "./storeConformance.ts"

const REF = /^\d+-\d+#\d+$/

const storeOn = (keyPrefix: string, eventsMaxLen = UNCAPPED_STREAM) =>
  Layer.unwrap(Effect.gen(function*() {
    const server = yield* TestRedis
    return RedisStore.layer({ url: server.url, keyPrefix, commandTimeoutMs: 1000, retryAttempts: 1, eventsMaxLen })
  }))

storeConformance("RedisStore, transfer lists referencing the uncapped stream (HISTORY_ARCHIVE=on)", {
  shared: TestRedis.layer,
  freshStore: (ns) => storeOn(ns),
  clock: "live"
})

const allTransfers = (account: string) => Effect.map(Store.use((s) => s.transfers(account, null, 10_000)), (p) => [...p.items].reverse())

/** Every transfer of the stream, by its reference. */
const streamTransfers = (raw: Redis, prefix: string) =>
  Effect.map(Effect.promise(() => raw.xrange(redisKeys(prefix).events, "-", "+")), (events) => {
    const byRef = new Map<string, Transfer>()
    for (const [id, fields] of events) {
      const at = fields.indexOf("transfers")
      ;(JSON.parse(fields[at + 1]!) as Array<Transfer>).forEach((t, i) => byRef.set(transferRef(id, i), t))
    }
    return byRef
  })

layer(TestRedis.layer, { excludeTestServices: true, timeout: 60_000 })("Transfer lists reference the stream", (it) => {
  it.effect("the lists hold references to the events' transfers, and weigh a fraction of the transfers in full", () =>
    Effect.gen(function*() {
      const raw = yield* TestRedis.rawClient
      const play = (prefix: string, eventsMaxLen: number) =>
        Effect.gen(function*() {
          yield* ensure("ann", 100)
          for (let i = 1; i <= 200; i++) yield* deposit("ann", i)
          return yield* allTransfers("w:ann")
        }).pipe(Effect.provide(storeOn(prefix, eventsMaxLen)))
      const read = yield* play("refs-size:", UNCAPPED_STREAM)
      const readFull = yield* play("full-size:", 100_000)
      assert.strictEqual(read.length, 201)

      const refsKey = redisKeys("refs-size:").transfers("w:ann")
      const elements = yield* Effect.promise(() => raw.lrange(refsKey, 0, -1))
      assert.isTrue(elements.every((e) => REF.test(e)), "every element is a reference")
      assert.deepStrictEqual(
        yield* Effect.promise(() => raw.lrange(redisKeys("refs-size:").transfers("x:mint"), 0, -1)),
        elements,
        "the other account's list references the same transfers"
      )
      const byRef = yield* streamTransfers(raw, "refs-size:")
      assert.deepStrictEqual(read, elements.map((e) => byRef.get(e)!), "each reads as the transfer its event holds")
      const fullElements = yield* Effect.promise(() => raw.lrange(redisKeys("full-size:").transfers("w:ann"), 0, -1))
      assert.isTrue(fullElements.every((e) => e.startsWith("{")), "a capped stream: lists in full")
      assert.strictEqual(readFull.length, 201)

      const refsBytes = Number(yield* Effect.promise(() => raw.call("MEMORY", "USAGE", refsKey, "SAMPLES", "0")))
      const fullBytes = Number(
        yield* Effect.promise(() => raw.call("MEMORY", "USAGE", redisKeys("full-size:").transfers("w:ann"), "SAMPLES", "0"))
      )
      console.log(`MEMORY USAGE of a list of 201 transfers: ${fullBytes} B in full, ${refsBytes} B as references`)
      assert.isBelow(refsBytes, fullBytes / 4)
    }))

  it.effect("a list written partly by an earlier version (transfers in full) reads whole, in order", () =>
    Effect.gen(function*() {
      const raw = yield* TestRedis.rawClient
      const prefix = "mixed:"
      // Earlier versions (and a capped stream) write whole transfers; this version then references.
      yield* Effect.gen(function*() {
        yield* ensure("bea", 10)
        yield* deposit("bea", 1)
      }).pipe(Effect.provide(storeOn(prefix, 100_000)))
      const read = yield* Effect.gen(function*() {
        yield* deposit("bea", 2)
        yield* deposit("bea", 3)
        return yield* allTransfers("w:bea")
      }).pipe(Effect.provide(storeOn(prefix)))
      const elements = yield* Effect.promise(() => raw.lrange(redisKeys(prefix).transfers("w:bea"), 0, -1))
      assert.deepStrictEqual(elements.map((e) => (e.startsWith("{") ? "full" : REF.test(e) ? "ref" : e)), ["full", "full", "ref", "ref"])
      assert.deepStrictEqual(read.map((t) => [t.type, t.amount]), [["GRANT", 10], ["DEPOSIT", 1], ["DEPOSIT", 2], ["DEPOSIT", 3]])
      const page = yield* Store.use((s) => s.transfers("w:bea", "3", 2)).pipe(Effect.provide(storeOn(prefix)))
      assert.deepStrictEqual({ amounts: page.items.map((t) => t.amount), next: page.nextCursor }, { amounts: [2, 1], next: "1" })
    }))

  it.effect("a reference the stream cannot resolve fails the read, naming it", () =>
    Effect.gen(function*() {
      const raw = yield* TestRedis.rawClient
      const prefix = "lost-transfer:"
      const keys = redisKeys(prefix)
      const failures = yield* Effect.gen(function*() {
        yield* ensure("cal", 10)
        yield* deposit("cal", 1)
        const [first] = yield* Effect.promise(() => raw.lrange(keys.transfers("w:cal"), 0, 0))
        const eventId = first!.split("#")[0]!
        // The event removed behind the list's back (a stream trimmed by hand).
        yield* Effect.promise(() => raw.xdel(keys.events, eventId))
        const trimmedEvent = yield* Effect.flip(Store.use((s) => s.transfers("w:cal", null, 10)))
        // A position the event does not have, and an element that is neither transfer nor reference.
        const [second] = yield* Effect.promise(() => raw.lrange(keys.transfers("w:cal"), 1, 1))
        yield* Effect.promise(() => raw.lset(keys.transfers("w:cal"), 1, second!.replace(/#\d+$/, "#7")))
        const badPosition = yield* Effect.flip(Store.use((s) => s.transfers("w:cal", "2", 1)))
        yield* Effect.promise(() => raw.lset(keys.transfers("w:cal"), 1, "garbage"))
        const garbage = yield* Effect.flip(Store.use((s) => s.transfers("w:cal", "2", 1)))
        return { eventId, trimmedEvent, badPosition, garbage, secondEvent: second!.split("#")[0]! }
      }).pipe(Effect.provide(storeOn(prefix)))
      const reason = (e: { readonly message: string }) => String((e as { reason?: string }).reason ?? e.message)
      assert.strictEqual(failures.trimmedEvent._tag, "StoreUnavailable")
      assert.include(reason(failures.trimmedEvent), `transfer 0 of w:cal (${failures.eventId}#0) references event ${failures.eventId}, which the stream does not hold`)
      assert.include(reason(failures.badPosition), `transfer 1 of w:cal (${failures.secondEvent}#7) references transfer 7 of event ${failures.secondEvent}, which has 1`)
      assert.include(reason(failures.garbage), "transfer 1 of w:cal (garbage) is neither a transfer nor a reference")
    }))

  it.effect("a trim never leaves a kept list (an account stopped for, a skipped one) referencing an event it removed", () =>
    Effect.gen(function*() {
      const raw = yield* TestRedis.rawClient
      const prefix = "trim-kept:"
      const keys = redisKeys(prefix)
      const result = yield* Effect.gen(function*() {
        const store = yield* Store
        yield* ensure("dan", 100) // mint -> dan
        yield* ensure("eve", 100) // mint -> eve
        for (let i = 1; i <= 3; i++) {
          yield* deposit("dan", i)
          yield* deposit("eve", i)
        }
        const before = { dan: yield* allTransfers("w:dan"), eve: yield* allTransfers("w:eve"), mint: yield* allTransfers("x:mint") }
        const events = [...(yield* store.events(null, 100)).items].reverse()
        assert.strictEqual(events.length, 8)
        const ids = (transfers: ReadonlyArray<Transfer>, n: number) => transfers.slice(0, n).map((t) => t.transferId)
        // Through the 5th event: dan is stopped for (kept), mint's pop does not match (skipped), eve is popped.
        const first = yield* store.trimArchived({
          fromEventId: "0",
          throughEventId: events[4]!.id,
          accounts: [
            { account: "w:eve", entriesThroughSeq: 0, entriesThroughChecksum: "", transfersBase: 0, transferIds: ids(before.eve, 2) },
            { account: "x:mint", entriesThroughSeq: 0, entriesThroughChecksum: "", transfersBase: 0, transferIds: ["not-mint's"] },
            { account: "w:dan", entriesThroughSeq: 0, entriesThroughChecksum: "", transfersBase: 0, transferIds: ids(before.dan, 3), keepTransfers: true }
          ]
        })
        const afterFirst = {
          dan: yield* Effect.promise(() => raw.lrange(keys.transfers("w:dan"), 0, -1)),
          mint: yield* Effect.promise(() => raw.lrange(keys.transfers("x:mint"), 0, -1)),
          hints: yield* Effect.promise(() => raw.hmget(keys.trimmed, "m:w:dan", "m:x:mint", "m:w:eve"))
        }
        const readFirst = { dan: yield* allTransfers("w:dan"), eve: yield* allTransfers("w:eve"), mint: yield* allTransfers("x:mint") }
        // Then the rest: dan still kept; the scan starts where the first one stopped.
        const second = yield* store.trimArchived({
          fromEventId: events[4]!.id,
          throughEventId: events[7]!.id,
          accounts: [
            { account: "w:eve", entriesThroughSeq: 0, entriesThroughChecksum: "", transfersBase: 2, transferIds: ids(before.eve.slice(2), 2) },
            { account: "w:dan", entriesThroughSeq: 0, entriesThroughChecksum: "", transfersBase: 0, transferIds: ids(before.dan.slice(3), 1), keepTransfers: true }
          ]
        })
        const readSecond = { dan: yield* allTransfers("w:dan"), eve: (yield* store.transfers("w:eve", null, 100)).items }
        return { before, first, afterFirst, readFirst, second, readSecond }
      }).pipe(Effect.provide(storeOn(prefix)))

      assert.deepStrictEqual(result.first, {
        _tag: "Trimmed",
        entries: 0,
        transfers: 2,
        events: 5,
        skipped: ["x:mint transfers the list does not start with the archived transfers at index 0"]
      })
      // Dan's first three (events 1, 3, 5) and mint's first five are now whole; the rest still references.
      assert.deepStrictEqual(result.afterFirst.dan.map((e) => (e.startsWith("{") ? "full" : "ref")), ["full", "full", "full", "ref"])
      assert.deepStrictEqual(result.afterFirst.mint.map((e) => (e.startsWith("{") ? "full" : "ref")), ["full", "full", "full", "full", "full", "ref", "ref", "ref"])
      assert.deepStrictEqual(result.afterFirst.hints, ["3", "5", null])
      assert.deepStrictEqual(result.readFirst, { dan: result.before.dan, eve: result.before.eve.slice(2), mint: result.before.mint })
      assert.deepStrictEqual(result.second, { _tag: "Trimmed", entries: 0, transfers: 2, events: 3, skipped: [] })
      assert.strictEqual(yield* Effect.promise(() => raw.xlen(keys.events)), 0)
      assert.deepStrictEqual(result.readSecond, { dan: result.before.dan, eve: [] })
      assert.deepStrictEqual(
        (yield* Effect.promise(() => raw.lrange(keys.transfers("w:dan"), 0, -1))).map((e) => JSON.parse(e) as Transfer),
        result.before.dan,
        "dan's list holds his transfers in full, exactly as the events did"
      )
      assert.strictEqual(yield* Effect.promise(() => raw.hget(keys.trimmed, "m:w:dan")), "4")
    }))

  it.effect("HISTORY_ARCHIVE=on keeps every event the lists reference (REDIS_EVENTS_MAXLEN is not applied); off caps the stream and keeps the lists in full", () =>
    Effect.gen(function*() {
      const raw = yield* TestRedis.rawClient
      const server = yield* TestRedis
      const configured = (archive: "on" | "off", prefix: string, transferLists = "refs") =>
        RedisStore.layer({ url: server.url }).pipe(Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({
          HISTORY_ARCHIVE: archive,
          REDIS_KEY_PREFIX: prefix,
          REDIS_EVENTS_MAXLEN: "10",
          TRANSFER_LISTS: transferLists
        }))))
      // XADD MAXLEN ~ trims whole stream nodes (100 entries each by default): far more writes than that.
      const play = Effect.gen(function*() {
        yield* ensure("fay", 0) // no transfer: 300 events, one transfer each
        for (let i = 1; i <= 300; i++) yield* deposit("fay", 1)
        return yield* allTransfers("w:fay")
      })
      const on = yield* play.pipe(Effect.provide(configured("on", "archive-on:")))
      const off = yield* play.pipe(Effect.provide(configured("off", "archive-off:")))
      assert.strictEqual(on.length, 300)
      assert.strictEqual(off.length, 300, "off: every transfer, though the stream dropped events")
      assert.strictEqual(yield* Effect.promise(() => raw.xlen(redisKeys("archive-on:").events)), 300)
      const onElements = yield* Effect.promise(() => raw.lrange(redisKeys("archive-on:").transfers("w:fay"), 0, -1))
      assert.isTrue(onElements.every((e) => REF.test(e)))
      const byRef = yield* streamTransfers(raw, "archive-on:")
      assert.isTrue(onElements.every((e) => byRef.has(e)), "every referenced event is in the stream")
      assert.isBelow(yield* Effect.promise(() => raw.xlen(redisKeys("archive-off:").events)), 300)
      const offElements = yield* Effect.promise(() => raw.lrange(redisKeys("archive-off:").transfers("w:fay"), 0, -1))
      assert.isTrue(offElements.every((e) => e.startsWith("{")))
      // TRANSFER_LISTS=full (a rollout next to earlier versions): uncapped, lists in full.
      const full = yield* play.pipe(Effect.provide(configured("on", "archive-on-full:", "full")))
      assert.strictEqual(full.length, 300)
      assert.strictEqual(yield* Effect.promise(() => raw.xlen(redisKeys("archive-on-full:").events)), 300)
      const fullElements = yield* Effect.promise(() => raw.lrange(redisKeys("archive-on-full:").transfers("w:fay"), 0, -1))
      assert.isTrue(fullElements.every((e) => e.startsWith("{")))
    }))
})

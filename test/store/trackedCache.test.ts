import { assert, describe, it } from "@effect/vitest"
import type { Versioned } from "../../src/domain/accounts.ts"
import { TrackedCache } from "../../src/store/redis/trackedCache.ts"

const v = (version: number): Versioned => ({ version, value: { kind: "wallet", balance: version } as never })

/** A live cache holding `key` at version 1, read under a fill ticket. */
const liveWith = (key: string, max = 10) => {
  const cache = new TrackedCache(max)
  cache.setLive(true)
  const ticket = cache.beginFill(key)!
  cache.endFill(ticket, v(1))
  return cache
}

describe("TrackedCache (READ_CACHE's store)", () => {
  it("serves nothing and takes no fills while tracking is not live", () => {
    const cache = new TrackedCache(10)
    assert.isUndefined(cache.beginFill("k"))
    cache.setLive(true)
    const ticket = cache.beginFill("k")!
    cache.setLive(false)
    cache.endFill(ticket, v(1))
    assert.isFalse(cache.has("k"))
    assert.isUndefined(cache.get("k"))
  })

  it("a read answered before a write but arriving after its invalidation does not fill the cache", () => {
    const cache = new TrackedCache(10)
    cache.setLive(true)
    const ticket = cache.beginFill("k")
    cache.invalidate(["k"])
    cache.endFill(ticket!, v(1))
    assert.isFalse(cache.has("k"))
    // A read sent after the invalidation fills it.
    const later = cache.beginFill("k")!
    cache.endFill(later, v(2))
    assert.strictEqual(cache.get("k")?.version, 2)
  })

  it("an invalidation of another key, or one before the read was sent, does not stop a fill", () => {
    const cache = new TrackedCache(10)
    cache.setLive(true)
    cache.invalidate(["k"])
    const ticket = cache.beginFill("k")!
    cache.invalidate(["other"])
    cache.endFill(ticket, v(3))
    assert.strictEqual(cache.get("k")?.version, 3)
  })

  it("a flush (FLUSHALL, tracking re-established) drops everything and every fill in flight", () => {
    const cache = liveWith("a")
    const ticket = cache.beginFill("b")!
    cache.flush()
    cache.endFill(ticket, v(1))
    assert.strictEqual(cache.size, 0)
    assert.isFalse(cache.has("a"))
    assert.isFalse(cache.has("b"))
  })

  it("losing tracking and getting it back leaves nothing from before", () => {
    const cache = liveWith("a")
    cache.setLive(false)
    cache.setLive(true)
    assert.isFalse(cache.has("a"))
  })

  it("is bounded: the least recently used object goes first", () => {
    const cache = new TrackedCache(2)
    cache.setLive(true)
    for (const key of ["a", "b"]) cache.endFill(cache.beginFill(key)!, v(1))
    assert.isDefined(cache.get("a")) // a is now the most recent
    cache.endFill(cache.beginFill("c")!, v(1))
    assert.strictEqual(cache.size, 2)
    assert.isTrue(cache.has("a"))
    assert.isFalse(cache.has("b"))
    assert.isTrue(cache.has("c"))
  })

  it("counts hits, misses, invalidated keys and flushes", () => {
    const counts = { hit: 0, miss: 0, invalidated: 0, flushed: 0 }
    const cache = new TrackedCache(10, {
      hit: () => void counts.hit++,
      miss: () => void counts.miss++,
      invalidated: (n) => void (counts.invalidated += n),
      flushed: () => void counts.flushed++
    })
    cache.setLive(true)
    cache.get("k")
    cache.endFill(cache.beginFill("k")!, v(1))
    cache.get("k")
    cache.invalidate(["k", "j"])
    cache.flush()
    assert.deepStrictEqual(counts, { hit: 1, miss: 1, invalidated: 2, flushed: 2 })
  })
})

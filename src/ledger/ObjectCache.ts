import type { Versioned } from "../domain/accounts.ts"

/**
 * The last known version of hot objects, so the common write plans without a
 * read and costs one round trip. Bounded LRU (a Map keeps insertion order).
 * Never trusted for correctness: apply checks versions, and a conflict
 * returns the current state that replaces what is here.
 */
export class ObjectCache {
  private readonly entries = new Map<string, Versioned>()
  private readonly max: number

  constructor(max: number) {
    this.max = max
  }

  get(key: string): Versioned | undefined {
    const v = this.entries.get(key)
    if (v !== undefined) {
      this.entries.delete(key)
      this.entries.set(key, v)
    }
    return v
  }

  /** Keeps the newer of the cached and the offered version (two fibers may race to fill it). */
  set(key: string, value: Versioned): void {
    const existing = this.entries.get(key)
    if (existing && existing.version > value.version) return
    this.entries.delete(key)
    this.entries.set(key, value)
    if (this.entries.size > this.max) {
      const oldest = this.entries.keys().next()
      if (!oldest.done) this.entries.delete(oldest.value)
    }
  }

  delete(key: string): void {
    this.entries.delete(key)
  }

  get size(): number {
    return this.entries.size
  }
}

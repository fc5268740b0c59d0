import { assert, describe } from "@effect/vitest"
import { Effect } from "effect"
import { admin, type Reply } from "../support/client.ts"
import type { HttpApiIt } from "../support/httpApiSuite.ts"
import { executeCommand, uniqueId } from "../support/seed.ts"

const HISTORY = 1_000

export const pagination = (it: HttpApiIt) =>
  describe("pagination over a 1,000-entry history", () => {
    let accountId = ""
    const seeded: Array<string> = []

    /** The history, written by the first test that needs it. */
    const seed = Effect.gen(function*() {
      if (accountId !== "") return
      accountId = uniqueId("history")
      yield* executeCommand({ op: "EnsureAccount", accountId, initialBalance: 1 })
      for (let i = 1; i < HISTORY; i++) {
        const r = yield* executeCommand({ op: "Deposit", accountId, amount: i, source: "ADMIN", idempotencyKey: uniqueId("p") })
        seeded.push(r.transactionId)
      }
    })

    /** Follows nextCursor to the end, returning every page. */
    const walk = Effect.fnUntraced(function*(path: string) {
      const pages: Array<Array<Record<string, unknown>>> = []
      let cursor: string | null = null
      do {
        const sep = path.includes("?") ? "&" : "?"
        const reply: Reply = yield* admin.get(cursor === null ? path : `${path}${sep}cursor=${cursor}`)
        assert.strictEqual(reply.status, 200)
        pages.push(reply.body.items)
        cursor = reply.body.nextCursor
      } while (cursor !== null && pages.length <= HISTORY)
      return pages
    })

    it.effect("transactions: every transfer exactly once, newest first, in pages of 37", () => Effect.gen(function*() {
      yield* seed
      const pages = yield* walk(`/api/accounts/${accountId}/transactions?limit=37`)
      const items = pages.flat() as Array<{ transactionId: string; type: string; amount: number }>
      assert.isTrue(pages.slice(0, -1).every((p) => p.length === 37))
      assert.lengthOf(items, HISTORY)
      assert.strictEqual(new Set(items.map((t) => t.transactionId)).size, HISTORY)
      // Seeded in order 1..999 after the grant: newest first means 999, 998, …, 1, then the grant.
      assert.deepStrictEqual(items.map((t) => t.amount), [...Array.from({ length: HISTORY - 1 }, (_, i) => HISTORY - 1 - i), 1])
      assert.deepStrictEqual(items.slice(0, -1).map((t) => t.transactionId), [...seeded].reverse())
      assert.strictEqual(items[HISTORY - 1]!.type, "GRANT")
    }))

    it.effect("transactions filtered by type still have no gaps or repeats across pages", () => Effect.gen(function*() {
      yield* seed
      const items = (yield* walk(`/api/accounts/${accountId}/transactions?limit=200&type=DEPOSIT`)).flat() as Array<{ transactionId: string }>
      assert.deepStrictEqual(items.map((t) => t.transactionId), [...seeded].reverse())
    }))

    it.effect("ledger: seq 1..1000 exactly once, in pages of 37", () => Effect.gen(function*() {
      yield* seed
      const pages = yield* walk(`/api/accounts/${accountId}/ledger?limit=37`)
      const seqs = (pages.flat() as Array<{ seq: number }>).map((e) => e.seq)
      assert.deepStrictEqual(seqs, Array.from({ length: HISTORY }, (_, i) => i + 1))
      assert.strictEqual(pages.at(-1)!.length, HISTORY % 37)
    }))
  })

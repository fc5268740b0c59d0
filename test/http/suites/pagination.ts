import { assert, describe, it } from "@effect/vitest"
import type { SuiteContext } from "../support/httpApiSuite.ts"
import { execute, uniqueId } from "../support/seed.ts"

const HISTORY = 1_000

export const pagination = ({ server, client }: SuiteContext) =>
  describe("pagination over a 1,000-entry history", () => {
    let accountId = ""
    const seeded: Array<string> = []

    const seed = async () => {
      if (accountId !== "") return
      accountId = uniqueId("history")
      await execute(server(), { op: "EnsureAccount", accountId, initialBalance: 1 })
      for (let i = 1; i < HISTORY; i++) {
        const r = await execute(server(), { op: "Deposit", accountId, amount: i, source: "ADMIN", idempotencyKey: uniqueId("p") })
        seeded.push(r.transactionId)
      }
    }

    /** Follows nextCursor to the end, returning every page. */
    const walk = async (path: string) => {
      const pages: Array<Array<Record<string, unknown>>> = []
      let cursor: string | null = null
      do {
        const sep = path.includes("?") ? "&" : "?"
        const reply = await client().admin.get(cursor === null ? path : `${path}${sep}cursor=${cursor}`)
        assert.strictEqual(reply.status, 200)
        pages.push(reply.body.items)
        cursor = reply.body.nextCursor
      } while (cursor !== null && pages.length <= HISTORY)
      return pages
    }

    it("transactions: every transfer exactly once, newest first, in pages of 37", async () => {
      await seed()
      const pages = await walk(`/api/accounts/${accountId}/transactions?limit=37`)
      const items = pages.flat() as Array<{ transactionId: string; type: string; amount: number }>
      assert.isTrue(pages.slice(0, -1).every((p) => p.length === 37))
      assert.lengthOf(items, HISTORY)
      assert.strictEqual(new Set(items.map((t) => t.transactionId)).size, HISTORY)
      // Seeded in order 1..999 after the grant: newest first means 999, 998, …, 1, then the grant.
      assert.deepStrictEqual(items.map((t) => t.amount), [...Array.from({ length: HISTORY - 1 }, (_, i) => HISTORY - 1 - i), 1])
      assert.deepStrictEqual(items.slice(0, -1).map((t) => t.transactionId), [...seeded].reverse())
      assert.strictEqual(items[HISTORY - 1]!.type, "GRANT")
    })

    it("transactions filtered by type still have no gaps or repeats across pages", async () => {
      await seed()
      const items = (await walk(`/api/accounts/${accountId}/transactions?limit=200&type=DEPOSIT`)).flat() as Array<{ transactionId: string }>
      assert.deepStrictEqual(items.map((t) => t.transactionId), [...seeded].reverse())
    })

    it("ledger: seq 1..1000 exactly once, in pages of 37", async () => {
      await seed()
      const pages = await walk(`/api/accounts/${accountId}/ledger?limit=37`)
      const seqs = (pages.flat() as Array<{ seq: number }>).map((e) => e.seq)
      assert.deepStrictEqual(seqs, Array.from({ length: HISTORY }, (_, i) => i + 1))
      assert.strictEqual(pages.at(-1)!.length, HISTORY % 37)
    })
  })

import { Effect } from "effect"
import type { Ledger } from "../../../ledger/Ledger.ts"
import type { StoreEvent } from "../../../store/Store.ts"

const SCAN_BUDGET = 2_000

/**
 * Recent ledger writes that moved chips, newest first. Holds and releases are
 * writes without transfers and are skipped; as in filteredTransfers, each read
 * asks for exactly what is still missing so the store's cursor resumes exactly.
 */
export const transferEvents = Effect.fnUntraced(function*(
  ledger: Ledger["Service"],
  start: string | null,
  limit: number
) {
  const items: Array<StoreEvent> = []
  let cursor = start
  let scanned = 0
  while (items.length < limit) {
    const page = yield* ledger.events(cursor, limit - items.length)
    items.push(...page.items.filter((e) => e.transfers.length > 0))
    scanned += page.items.length
    cursor = page.nextCursor
    if (cursor === null || page.items.length === 0 || scanned >= SCAN_BUDGET) break
  }
  return { items, nextCursor: cursor }
})

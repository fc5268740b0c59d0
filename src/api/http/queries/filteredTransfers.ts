import { Effect } from "effect"
import type { AccountRef } from "../../../domain/accounts.ts"
import type { Transfer, TransferType } from "../../../domain/transfer.ts"
import type { Ledger } from "../../../ledger/Ledger.ts"

export interface TransferFilter {
  readonly types?: ReadonlySet<TransferType>
  /** Inclusive, epoch ms. */
  readonly since?: number
  /** Exclusive, epoch ms. */
  readonly before?: number
}

/** How many transfers one request may look at while filtering; past it the page is returned short, with a cursor. */
export const SCAN_BUDGET = 2_000

/**
 * One page of an account's transfers, newest first, that match the filter.
 * Each store read asks for exactly the number still missing, so every
 * transfer read is either returned or filtered out and the store's cursor is
 * always an exact resume point: no gaps, no repeats, whatever the filter.
 */
export const filteredTransfers = Effect.fnUntraced(function*(
  ledger: Ledger["Service"],
  account: AccountRef,
  start: string | null,
  limit: number,
  filter: TransferFilter
) {
  const items: Array<Transfer> = []
  let cursor = start
  let scanned = 0
  while (items.length < limit) {
    const page = yield* ledger.transfers(account, cursor, limit - items.length)
    for (const t of page.items) {
      // Newest first: once a transfer is older than the range, every later one is too.
      if (filter.since !== undefined && t.timestamp < filter.since) return { items, nextCursor: null }
      if (filter.before !== undefined && t.timestamp >= filter.before) continue
      if (filter.types !== undefined && !filter.types.has(t.type)) continue
      items.push(t)
    }
    scanned += page.items.length
    cursor = page.nextCursor
    if (cursor === null || page.items.length === 0 || scanned >= SCAN_BUDGET) break
  }
  return { items, nextCursor: cursor }
})

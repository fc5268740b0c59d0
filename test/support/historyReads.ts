import { Effect, Option } from "effect"
import { HistoryStore } from "../../src/history/HistoryStore.ts"
import type { AccountRef } from "../../src/domain/accounts.ts"
import { Ledger } from "../../src/ledger/Ledger.ts"
import { type Page, Store, type StoreEvent } from "../../src/store/Store.ts"

/** Every page of everything a client can read, with small pages so that pages straddle the tiers. */
export const readEverything = Effect.gen(function*() {
  const ledger = yield* Ledger
  const accounts: Array<AccountRef> = []
  let cursor: string | null = null
  do {
    const page: Page<AccountRef> = yield* ledger.accounts(cursor, 100)
    accounts.push(...page.items)
    cursor = page.nextCursor
  } while (cursor !== null)
  const store = yield* Store
  accounts.push(...(yield* store.closedAccounts(0, null, 10_000)).items, "x:mint", "x:burn", "x:rake")
  // Pots retired from Redis (Archiver.retire) are listed by the archive only.
  const history = yield* Effect.serviceOption(HistoryStore)
  if (Option.isSome(history) && history.value.enabled) accounts.push(...(yield* Effect.orDie(history.value.retiredPots(null, 10_000))).items)
  return { accounts: accounts.sort(), ...(yield* readPagesOf(accounts)) }
})

/** Every page of the given accounts' entries (by 3) and transfers (by 4), and of the event feed (by 5). */
export const readPagesOf = (accounts: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const ledger = yield* Ledger
    const entries: Record<string, Array<unknown>> = {}
    const transfers: Record<string, Array<unknown>> = {}
    for (const account of accounts) {
      const seen: Array<unknown> = []
      for (let after = 0; ;) {
        const page = yield* ledger.entries(account, after, 3)
        seen.push(...page)
        if (page.length < 3) break
        after = page[page.length - 1]!.seq
      }
      entries[account] = seen
      const moved: Array<unknown> = []
      let at: string | null = null
      do {
        const page: Page<unknown> = yield* ledger.transfers(account, at, 4)
        moved.push(...page.items)
        at = page.nextCursor
      } while (at !== null)
      transfers[account] = moved
    }
    // The admin feed shows events that moved chips (an event of holds only has no transfers).
    const events: Array<unknown> = []
    let at: string | null = null
    do {
      const page: Page<StoreEvent> = yield* ledger.events(at, 5)
      events.push(...page.items.filter((e) => e.transfers.length > 0).map((e) => ({ id: e.id, transfers: e.transfers })))
      at = page.nextCursor
    } while (at !== null)
    return { entries, transfers, events }
  })

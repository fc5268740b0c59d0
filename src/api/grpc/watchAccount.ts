import { Effect } from "effect"
import { walletKey, type WalletState } from "../../domain/accounts.ts"
import type { LedgerEntry } from "../../domain/ledgerEntry.ts"
import { isEventAfter, Store } from "../../store/Store.ts"
import type { WireRequest } from "./balanceHandlers.ts"
import { decodeWatch } from "./decodeRequests.ts"
import { balanceChangeMessage } from "./encodeResponses.ts"
import type { Ready } from "./callRunner.ts"

const PAGE = 500

/**
 * WatchAccount: streams every entry of one wallet's ledger in seq order.
 *
 * The store's event stream says *when* something happened; the wallet's own
 * ledger (gap-free seqs) says *what*. Events are polled from the stream tail
 * taken at subscription time; an entry whose seq is not the next one expected
 * (the capped stream dropped events, the archiver trimmed them, or the watcher
 * started from `after_seq`) is filled in from the ledger itself (both tiers),
 * so a client never sees a gap or a duplicate. The response headers (`x-watch-after-seq`) are sent once the
 * subscription is live. Runs until interrupted (client cancel, server shutdown).
 */
export const makeWatchAccount = Effect.fn("makeWatchAccount")(function*(pollMs: number) {
  const store = yield* Store

  return Effect.fnUntraced(function*(
    request: WireRequest,
    write: (message: object) => Effect.Effect<void>,
    ready: Ready
  ) {
    const { accountId, afterSeq } = yield* decodeWatch(request)
    const ref = walletKey(accountId)
    const newest = yield* store.events(null, 1)
    let cursor = newest.items[0]?.id ?? "0"
    let lastSeq = afterSeq ?? 0
    if (afterSeq === undefined) {
      // Read after the tail, so every later change is in the events after `cursor`.
      const wallet = (yield* store.load([ref])).objects.get(ref)?.value as WalletState | null | undefined
      lastSeq = wallet?.seq ?? 0
    }

    const emit = (e: LedgerEntry) =>
      Effect.suspend(() => {
        lastSeq = e.seq
        return write(balanceChangeMessage(accountId, e))
      })

    const backfill = Effect.gen(function*() {
      for (;;) {
        const page = yield* store.entries(ref, lastSeq, PAGE)
        for (const e of page) yield* emit(e)
        if (page.length < PAGE) return
      }
    })

    // From here on nothing after `lastSeq` can be missed: the header tells the client so.
    yield* ready({ "x-watch-after-seq": String(lastSeq) })
    if (afterSeq !== undefined) yield* backfill
    for (;;) {
      // The archiver trims events it has moved to the history store: any of them written after
      // `cursor` and trimmed before this poll saw them are caught up from the ledger itself.
      const { cursor: trimmed } = yield* store.trimState([])
      if (isEventAfter(trimmed, cursor)) {
        yield* backfill
        cursor = trimmed
      }
      const events = yield* store.eventsAfter(cursor, PAGE)
      if (events.length === 0) {
        yield* Effect.sleep(pollMs)
        continue
      }
      cursor = events[events.length - 1]!.id
      for (const event of events) {
        for (const e of event.entries) {
          if (e.accountId !== ref || e.seq <= lastSeq) continue
          if (e.seq === lastSeq + 1) yield* emit(e)
          else yield* backfill
        }
      }
    }
  })
})

import type { AccountRef, PotState, ReservationState, StoredObject } from "../domain/accounts.ts"
import { CHAIN_START, type ChainCursor, verifyEntries } from "../domain/chainVerification.ts"
import type { LedgerEntry } from "../domain/ledgerEntry.ts"
import type { ContinuityStop, OrderedTransfer } from "../history/HistoryStore.ts"
import type { StoreEvent } from "../store/Store.ts"

/**
 * The pure part of an archiver pass: what a run of stream events asks to be
 * archived, and which of it continues the archived chains. No I/O here; the
 * Archiver reads, calls these, and commits.
 */

/** Every transfer of the events, with its place in the stream (event id, position in the apply). */
export const orderedTransfers = (events: ReadonlyArray<Pick<StoreEvent, "id" | "transfers">>): Array<OrderedTransfer> =>
  events.flatMap((event) => event.transfers.map((transfer, position) => ({ transfer, eventId: event.id, position })))

/** The events' entries (or their outlines: account and seq) grouped by account, each group in seq order. */
export const entriesByAccount = <E extends Pick<LedgerEntry, "accountId" | "seq"> = LedgerEntry>(
  events: ReadonlyArray<{ readonly entries: ReadonlyArray<E> }>
): Map<AccountRef, Array<E>> => {
  const byAccount = new Map<AccountRef, Array<E>>()
  for (const event of events) {
    for (const e of event.entries) {
      const list = byAccount.get(e.accountId)
      if (list) list.push(e)
      else byAccount.set(e.accountId, [e])
    }
  }
  for (const list of byAccount.values()) list.sort((a, b) => a.seq - b.seq)
  return byAccount
}

/**
 * Keys of the objects these entries closed: a pot pays out or refunds only when it is settled or
 * cancelled; a reservation is bought in, released or expired only when it closes.
 */
export const closedObjectKeys = (events: ReadonlyArray<StoreEvent>): Array<string> => {
  const keys = new Set<string>()
  for (const event of events) {
    for (const e of event.entries) {
      if (e.parent.startsWith("pot:") && (e.type === "PAYOUT" || e.type === "REFUND" || e.type === "RAKE")) {
        keys.add(`p:${e.parent.slice("pot:".length)}`)
      } else if (e.parent.startsWith("reservation:") && (e.type === "BUY_IN" || e.type === "RELEASE" || e.type === "EXPIRE")) {
        keys.add(`r:${e.parent.slice("reservation:".length)}`)
      }
    }
  }
  return [...keys]
}

/** A pot or reservation in a final state (its closedAt set), else null. */
export const closedAt = (state: StoredObject | null): number | null => {
  if (state === null) return null
  if (state.kind === "pot") return (state as PotState).status === "ACTIVE" ? null : (state as PotState).closedAt ?? null
  if (state.kind === "reservation") {
    return (state as ReservationState).status === "HELD" ? null : (state as ReservationState).closedAt ?? null
  }
  return null
}

export type AccountVerdict =
  /** These entries continue the archived chain exactly (may be empty: nothing new). */
  | { readonly _tag: "Continues"; readonly entries: ReadonlyArray<LedgerEntry> }
  /** The Redis chain does not continue the archive's: archive and trim nothing of this account. */
  | { readonly _tag: "Stop"; readonly stop: ContinuityStop }

/**
 * Decides one account: `head` is where its archived chain ends (absent: nothing archived yet),
 * `entries` what Redis has after it (the stream's entries, gaps already filled from the account's
 * own ledger), `archived` the archive's checksums of any entries at or below the head that the
 * stream carried again (keyed by seq). Accepted only when the first new entry links to the
 * archived head (seq, checksum, balance, held) and every entry checks out; entries the archive
 * already holds must be the very same ones (a Redis restored from an older backup writes other
 * entries under the same seqs: that is a stop, never a skip).
 */
export const continuity = (
  account: AccountRef,
  head: ChainCursor | undefined,
  entries: ReadonlyArray<LedgerEntry>,
  archived: ReadonlyMap<number, string>,
  hmacKey: string | undefined
): AccountVerdict => {
  const from = head ?? CHAIN_START
  const stop = (seq: number, reason: string): AccountVerdict => ({ _tag: "Stop", stop: { account, seq, reason } })
  for (const e of entries) {
    if (e.seq > from.seq) break
    const theirs = archived.get(e.seq)
    if (theirs !== e.checksum) {
      return stop(e.seq, theirs === undefined
        ? `entry ${e.seq} is at or below the archived head ${from.seq} but the archive does not hold it`
        : `entry ${e.seq} in Redis differs from the archived entry ${e.seq} (checksum ${e.checksum.slice(0, 12)}… vs ${theirs.slice(0, 12)}…)`)
    }
  }
  const fresh = entries.filter((e) => e.seq > from.seq)
  const { findings } = verifyEntries(account, from, fresh, hmacKey)
  const first = findings[0]
  if (first !== undefined) {
    return stop(first.seq ?? from.seq + 1, `${first.kind} after archived seq ${from.seq}: ${first.detail}`)
  }
  return { _tag: "Continues", entries: fresh }
}

import { createHmac, hash } from "node:crypto"
import type { AccountRef } from "./accounts.ts"
import type { TransferType } from "./transfer.ts"

/**
 * Why an entry exists. Holds, releases and expiries change `held` only
 * (amount 0); every other type moves chips.
 */
export type EntryType = TransferType | "HOLD" | "RELEASE" | "EXPIRE"

/** One line of an account's append-only ledger, chained to the previous line by its checksum. */
export interface LedgerEntry {
  readonly entryId: string
  readonly accountId: AccountRef
  readonly seq: number
  readonly transferId: string
  readonly type: EntryType
  /** Signed change of the balance. */
  readonly amount: number
  readonly balanceBefore: number
  readonly balanceAfter: number
  /** Signed change of `held` (wallets only; 0 elsewhere). */
  readonly heldDelta: number
  readonly heldAfter: number
  /** What the entry belongs to: `reservation:<id>`, `pot:<table>:<hand>` or `transfer:<id>`. */
  readonly parent: string
  readonly metadata: Readonly<Record<string, string>>
  readonly timestamp: number
  readonly previousChecksum: string
  readonly checksum: string
}

export const GENESIS = "GENESIS"

export type UnsignedEntry = Omit<LedgerEntry, "checksum">

const sortedMetadata = (metadata: Readonly<Record<string, string>>): Array<[string, string]> =>
  Object.keys(metadata).sort().map((k) => [k, metadata[k]!])

/** Fixed field order; JSON of an array is unambiguous and independent of object key order. */
export const canonicalEncoding = (e: UnsignedEntry): string =>
  JSON.stringify([
    "v1",
    e.entryId,
    e.accountId,
    e.seq,
    e.transferId,
    e.type,
    e.amount,
    e.balanceBefore,
    e.balanceAfter,
    e.heldDelta,
    e.heldAfter,
    e.parent,
    sortedMetadata(e.metadata),
    e.timestamp,
    e.previousChecksum
  ])

/** SHA-256, or HMAC-SHA-256 when a key is configured (then Redis write access cannot forge a chain). */
export const entryChecksum = (e: UnsignedEntry, hmacKey: string | undefined): string =>
  hmacKey
    ? createHmac("sha256", hmacKey).update(canonicalEncoding(e)).digest("hex")
    : hash("sha256", canonicalEncoding(e)) // one-shot: half the cost of a Hash object per entry

export const signEntry = (e: UnsignedEntry, hmacKey: string | undefined): LedgerEntry => ({
  ...e,
  checksum: entryChecksum(e, hmacKey)
})

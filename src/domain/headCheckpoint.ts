import { createHmac } from "node:crypto"

/** What a checkpoint asserts: the chain of `account` had `seq` entries, the last with `checksum`, and `balance`. */
export interface CheckpointFields {
  readonly account: string
  readonly seq: number
  readonly checksum: string
  readonly balance: number
  readonly takenAt: number
}

/**
 * HMAC-SHA-256 of a checkpoint with LEDGER_HMAC_KEY (null without a key):
 * someone who can write to the history store cannot forge a head the
 * verifier accepts. Fixed field order, JSON of an array: unambiguous.
 */
export const checkpointMac = (c: CheckpointFields, hmacKey: string | undefined): string | null =>
  hmacKey === undefined
    ? null
    : createHmac("sha256", hmacKey).update(JSON.stringify(["checkpoint-v1", c.account, c.seq, c.checksum, c.balance, c.takenAt])).digest("hex")

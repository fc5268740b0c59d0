import type { ChainedAccount } from "./accounts.ts"
import { entryChecksum, GENESIS, type LedgerEntry } from "./ledgerEntry.ts"

/** Every kind of integrity finding, at runtime too (metric labels). */
export const FINDING_KINDS = [
  "SEQ_GAP",
  "BROKEN_LINK",
  "BAD_CHECKSUM",
  "BALANCE_DISCONTINUITY",
  "AMOUNT_MISMATCH",
  "WRONG_ACCOUNT",
  "HEAD_MISMATCH",
  "MISSING_ACCOUNT",
  "ZERO_SUM_VIOLATION",
  "CHECKPOINT_MISMATCH",
  "TRANSFER_MISSING",
  "TRANSFER_MISMATCH"
] as const
export type FindingKind = (typeof FINDING_KINDS)[number]

/** A pass over every chain from the start, over entries added since the last clean pass, or over one wallet. */
export const VERIFICATION_MODES = ["full", "incremental", "account"] as const
export type VerificationMode = (typeof VERIFICATION_MODES)[number]

export interface Finding {
  readonly account: string
  readonly seq: number | null
  readonly kind: FindingKind
  readonly detail: string
}

/** Where a chain walk stands: after `seq` entries, with this checksum, balance and held. */
export interface ChainCursor {
  readonly seq: number
  readonly checksum: string
  readonly balance: number
  readonly held: number
}

export const CHAIN_START: ChainCursor = { seq: 0, checksum: GENESIS, balance: 0, held: 0 }

/**
 * Checks a run of consecutive entries continuing from `from`: seqs without
 * gaps, each previousChecksum linking to the last checksum, each checksum
 * recomputing, balances and holds continuing. Returns the findings and where
 * the walk ended (the next run continues from there).
 */
export const verifyEntries = (
  account: string,
  from: ChainCursor,
  entries: ReadonlyArray<LedgerEntry>,
  hmacKey: string | undefined
): { readonly findings: ReadonlyArray<Finding>; readonly cursor: ChainCursor } => {
  const findings: Array<Finding> = []
  let cursor = from
  for (const e of entries) {
    const at = (kind: FindingKind, detail: string) => findings.push({ account, seq: e.seq, kind, detail })
    if (e.accountId !== account) at("WRONG_ACCOUNT", `entry belongs to ${e.accountId}`)
    if (e.seq !== cursor.seq + 1) at("SEQ_GAP", `expected seq ${cursor.seq + 1}, found ${e.seq}`)
    if (e.previousChecksum !== cursor.checksum) at("BROKEN_LINK", "previousChecksum does not match the previous entry")
    const { checksum, ...unsigned } = e
    if (entryChecksum(unsigned, hmacKey) !== checksum) at("BAD_CHECKSUM", "checksum does not recompute")
    if (e.balanceBefore !== cursor.balance) {
      at("BALANCE_DISCONTINUITY", `balanceBefore ${e.balanceBefore} but the previous balanceAfter is ${cursor.balance}`)
    }
    if (e.balanceAfter - e.balanceBefore !== e.amount) at("AMOUNT_MISMATCH", "balanceAfter - balanceBefore differs from amount")
    if (e.heldAfter - e.heldDelta !== cursor.held) {
      at("BALANCE_DISCONTINUITY", `held before ${e.heldAfter - e.heldDelta} but the previous heldAfter is ${cursor.held}`)
    }
    cursor = { seq: e.seq, checksum: e.checksum, balance: e.balanceAfter, held: e.heldAfter }
  }
  return { findings, cursor }
}

/** The account's head (balance, held, seq, last checksum) must be where its chain ends. */
export const verifyHead = (account: string, head: ChainedAccount | null, end: ChainCursor): ReadonlyArray<Finding> => {
  if (head === null) {
    return end.seq > 0 ? [{ account, seq: null, kind: "MISSING_ACCOUNT", detail: "ledger entries exist but the account does not" }] : []
  }
  const held = head.kind === "wallet" ? head.held : 0
  const problems: Array<string> = []
  if (head.seq !== end.seq) problems.push(`head seq ${head.seq} but the chain has ${end.seq} entries`)
  if (head.checksum !== end.checksum) problems.push("head checksum differs from the last entry's")
  if (head.balance !== end.balance) problems.push(`balance ${head.balance} but the last balanceAfter is ${end.balance}`)
  if (held !== end.held) problems.push(`held ${held} but the last heldAfter is ${end.held}`)
  return problems.map((detail) => ({ account, seq: end.seq, kind: "HEAD_MISMATCH" as const, detail }))
}

/**
 * A chain against a head it once had: the latest head checkpoint (history store), or the archive's
 * own last entry. The chain must reach that seq, and its entry there must have that checksum and
 * balance; a checkpoint must carry a valid MAC when there is an HMAC key (`macValid`). A chain
 * truncated with its head rewritten to match passes every other check, not this one.
 * `atReference` is the chain's entry at that seq; `what` names the reference in the finding.
 */
export const verifyAgainst = (
  account: string,
  end: ChainCursor,
  reference: { readonly seq: number; readonly checksum: string; readonly balance: number },
  atReference: LedgerEntry | undefined,
  what: string,
  macValid = true
): ReadonlyArray<Finding> => {
  const finding = (detail: string): Finding => ({ account, seq: reference.seq, kind: "CHECKPOINT_MISMATCH", detail })
  if (!macValid) return [finding(`${what} at seq ${reference.seq} does not carry a valid HMAC`)]
  if (end.seq < reference.seq) return [finding(`the chain ends at seq ${end.seq} but ${what} has seq ${reference.seq}`)]
  if (atReference?.seq !== reference.seq || atReference.checksum !== reference.checksum || atReference.balanceAfter !== reference.balance) {
    return [finding(`entry ${reference.seq} differs from ${what}`)]
  }
  return []
}

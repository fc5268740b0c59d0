import type { PotState, ReservationState, StackState, WalletState } from "../../domain/accounts.ts"
import type { LedgerEntry } from "../../domain/ledgerEntry.ts"
import { calculatePots } from "../../domain/potMath.ts"
import type {
  CancelResult,
  CashOutResult,
  CommitResult,
  ContributeResult,
  EnsureAccountResult,
  ReleaseResult,
  ReserveResult,
  SettleResult,
  WalletMovementResult
} from "../../domain/responses.ts"
import type { Observed } from "../../ledger/Ledger.ts"

/**
 * Domain results as wire messages (camelCase, as proto-loader serialises
 * them). int64 fields are written as decimal strings: exact for every safe
 * integer, whatever the client's long representation.
 */

const i64 = (n: number): string => String(n)

export const CURRENCY = "CHIPS"

export const balanceResponse = (accountId: string, wallet: Observed<WalletState>) => {
  const balance = wallet.value?.balance ?? 0
  const held = wallet.value?.held ?? 0
  return {
    accountId,
    balance: i64(balance),
    availableBalance: i64(balance - held),
    currency: CURRENCY,
    version: i64(wallet.version),
    stale: wallet.stale,
    held: i64(held)
  }
}

export const ensureAccountResponse = (r: EnsureAccountResult) => ({
  accountId: r.accountId,
  balance: i64(r.balance),
  created: r.created
})

export const reserveResponse = (r: ReserveResult) => ({
  ok: true,
  reservationId: r.reservationId,
  availableBalance: i64(r.availableBalance),
  expiresAtMs: i64(r.expiresAt)
})

export const commitResponse = (r: CommitResult) => ({
  ok: true,
  transactionId: r.transactionId,
  newBalance: i64(r.newBalance)
})

export const releaseResponse = (r: ReleaseResult) => ({ ok: true, availableBalance: i64(r.availableBalance) })

export const cashOutResponse = (r: CashOutResult) => ({
  ok: true,
  transactionId: r.transactionId,
  newBalance: i64(r.newBalance),
  stackBalance: i64(r.stack)
})

export const contributeResponse = (r: ContributeResult) => ({
  ok: true,
  totalPot: i64(r.totalPot),
  seatContribution: i64(r.seatContribution),
  stackBalance: i64(r.stack),
  transactionId: r.transactionId
})

export const settleResponse = (r: SettleResult) => ({
  ok: true,
  results: r.results.map((p) => ({
    accountId: p.accountId,
    transactionId: p.transactionId,
    amount: i64(p.amount),
    newBalance: i64(p.newBalance),
    seatId: p.seatId
  })),
  rake: i64(r.rake),
  normalised: r.normalised
})

const seatContribution = (c: { readonly seatId: number; readonly accountId: string; readonly amount: number }) => ({
  seatId: c.seatId,
  accountId: c.accountId,
  amount: i64(c.amount)
})

export const cancelResponse = (r: CancelResult) => ({ ok: true, refunds: r.refunds.map(seatContribution) })

export const walletMovementResponse = (r: WalletMovementResult) => ({
  ok: true,
  transactionId: r.transactionId,
  accountId: r.accountId,
  amount: i64(r.amount),
  balance: i64(r.balance),
  availableBalance: i64(r.availableBalance)
})

export const reservationResponse = (r: ReservationState, stale: boolean) => ({
  ok: true,
  reservationId: r.reservationId,
  accountId: r.accountId,
  tableId: r.tableId,
  amount: i64(r.amount),
  status: r.status,
  createdAtMs: i64(r.createdAt),
  expiresAtMs: i64(r.expiresAt),
  closedAtMs: i64(r.closedAt ?? 0),
  closeReason: r.closeReason ?? "",
  transactionId: r.commit?.transactionId ?? "",
  stale
})

export const stackResponse = (tableId: string, accountId: string, stack: Observed<StackState>) => ({
  ok: true,
  tableId,
  accountId,
  balance: i64(stack.value?.balance ?? 0),
  version: i64(stack.version),
  stale: stack.stale
})

export const potResponse = (pot: PotState, version: number, stale: boolean, foldedSeats: ReadonlyArray<number>) => ({
  ok: true,
  tableId: pot.tableId,
  handId: pot.handId,
  status: pot.status,
  balance: i64(pot.balance),
  contributions: pot.contributions.map(seatContribution),
  pots: calculatePots(pot.contributions, foldedSeats).map((layer) => ({
    amount: i64(layer.amount),
    eligibleSeats: [...layer.eligibleSeats]
  })),
  version: i64(version),
  stale
})

export const ledgerEntryMessage = (e: LedgerEntry) => ({
  entryId: e.entryId,
  account: e.accountId,
  seq: i64(e.seq),
  transferId: e.transferId,
  type: e.type,
  amount: i64(e.amount),
  balanceBefore: i64(e.balanceBefore),
  balanceAfter: i64(e.balanceAfter),
  heldDelta: i64(e.heldDelta),
  heldAfter: i64(e.heldAfter),
  parent: e.parent,
  metadata: { ...e.metadata },
  timestampMs: i64(e.timestamp),
  previousChecksum: e.previousChecksum,
  checksum: e.checksum
})

export const entriesResponse = (entries: ReadonlyArray<LedgerEntry>, limit: number) => ({
  ok: true,
  entries: entries.map(ledgerEntryMessage),
  nextAfterSeq: i64(entries.length === limit ? entries[entries.length - 1]!.seq : 0)
})

const parentId = (parent: string, prefix: string): string | undefined =>
  parent.startsWith(prefix) ? parent.slice(prefix.length) : undefined

/** The TransactionMetadata of a wallet entry: only the fields it has (all are proto3 `optional`). */
const transactionMetadata = (e: LedgerEntry) => {
  const m: Record<string, string | number> = {}
  const tableId = e.metadata.tableId
  if (tableId !== undefined) m.tableId = tableId
  if (e.metadata.handId !== undefined) m.handId = e.metadata.handId
  const seat = Number(e.metadata.seatId)
  if (e.metadata.seatId !== undefined && Number.isInteger(seat)) m.seatId = seat
  const reservationId = parentId(e.parent, "reservation:")
  if (reservationId !== undefined) m.reservationId = reservationId
  const reason = e.metadata.reason ?? e.metadata.source
  if (reason !== undefined) m.reason = reason
  return m
}

export const balanceChangeMessage = (accountId: string, e: LedgerEntry) => ({
  accountId,
  seq: i64(e.seq),
  type: e.type,
  amount: i64(e.amount),
  balanceAfter: i64(e.balanceAfter),
  heldAfter: i64(e.heldAfter),
  availableAfter: i64(e.balanceAfter - e.heldAfter),
  transferId: e.transferId,
  timestampMs: i64(e.timestamp),
  heldDelta: i64(e.heldDelta),
  metadata: transactionMetadata(e)
})

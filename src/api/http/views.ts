import type { ReservationState, WalletState } from "../../domain/accounts.ts"
import type { LedgerEntry } from "../../domain/ledgerEntry.ts"
import type { Transfer } from "../../domain/transfer.ts"
import type { Observed } from "../../ledger/Ledger.ts"
import type { VerificationReport } from "../../ledger/LedgerVerifier.ts"
import { iso, type ReservationView, type TransferView } from "./schemas/CommonSchemas.ts"

/** Domain objects as the HTTP API shows them: times as ISO 8601, nothing internal. */

export const balanceView = (accountId: string, observed: Observed<WalletState>, wallet: WalletState) => ({
  accountId,
  balance: wallet.balance,
  availableBalance: wallet.balance - wallet.held,
  held: wallet.held,
  currency: "CHIPS" as const,
  version: observed.version,
  stale: observed.stale
})

export const transferView = (t: Transfer): TransferView => ({
  transactionId: t.transferId,
  type: t.type,
  from: t.from,
  to: t.to,
  amount: t.amount,
  parent: t.parent,
  metadata: t.metadata,
  timestamp: iso(t.timestamp)
})

export const accountTransactionView = (account: string, t: Transfer) => ({
  transactionId: t.transferId,
  type: t.type,
  direction: t.to === account ? "CREDIT" as const : "DEBIT" as const,
  amount: t.amount,
  from: t.from,
  to: t.to,
  metadata: t.metadata,
  timestamp: iso(t.timestamp)
})

export const entryView = (e: LedgerEntry) => ({
  seq: e.seq,
  entryId: e.entryId,
  transferId: e.transferId,
  type: e.type,
  amount: e.amount,
  balanceBefore: e.balanceBefore,
  balanceAfter: e.balanceAfter,
  heldDelta: e.heldDelta,
  heldAfter: e.heldAfter,
  parent: e.parent,
  metadata: e.metadata,
  timestamp: iso(e.timestamp),
  previousChecksum: e.previousChecksum,
  checksum: e.checksum
})

export const reservationView = (r: ReservationState): ReservationView => ({
  reservationId: r.reservationId,
  accountId: r.accountId,
  tableId: r.tableId,
  amount: r.amount,
  status: r.status,
  createdAt: iso(r.createdAt),
  expiresAt: iso(r.expiresAt),
  ...(r.closedAt === undefined ? {} : { closedAt: iso(r.closedAt) }),
  ...(r.closeReason === undefined ? {} : { closeReason: r.closeReason }),
  ...(r.commit === undefined ? {} : { transactionId: r.commit.transactionId })
})

export const reportView = (r: VerificationReport) => ({
  mode: r.mode,
  startedAt: iso(r.startedAt),
  finishedAt: iso(r.finishedAt),
  accountsChecked: r.accountsChecked,
  entriesChecked: r.entriesChecked,
  totalBalance: r.totalBalance,
  ok: r.ok,
  findings: r.findings.map((f) => ({ account: f.account, seq: f.seq, kind: f.kind, detail: f.detail }))
})

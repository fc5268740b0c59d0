import type { AccountRef } from "./accounts.ts"

export type TransferType =
  | "GRANT"
  | "DEPOSIT"
  | "WITHDRAW"
  | "BUY_IN"
  | "CONTRIBUTION"
  | "RAKE"
  | "PAYOUT"
  | "REFUND"
  | "CASH_OUT"

/** One movement of chips from one account to another; the double-entry unit. */
export interface Transfer {
  readonly transferId: string
  readonly type: TransferType
  readonly from: AccountRef
  readonly to: AccountRef
  readonly amount: number
  readonly parent: string
  readonly metadata: Readonly<Record<string, string>>
  readonly timestamp: number
}

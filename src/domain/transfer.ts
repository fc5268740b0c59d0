import type { AccountRef } from "./accounts.ts"

/** Every kind of transfer, at runtime too (API schemas, metric labels). */
export const TRANSFER_TYPES = [
  "GRANT",
  "DEPOSIT",
  "WITHDRAW",
  "BUY_IN",
  "CONTRIBUTION",
  "RAKE",
  "PAYOUT",
  "REFUND",
  "CASH_OUT"
] as const
export type TransferType = (typeof TRANSFER_TYPES)[number]

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

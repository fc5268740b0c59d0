/** What each operation answers; stored verbatim with the idempotency key. */

export interface EnsureAccountResult {
  readonly accountId: string
  readonly balance: number
  readonly created: boolean
}
export interface WalletMovementResult {
  readonly transactionId: string
  readonly accountId: string
  readonly amount: number
  readonly balance: number
  readonly availableBalance: number
}
export interface ReserveResult {
  readonly reservationId: string
  readonly availableBalance: number
  readonly expiresAt: number
}
export interface CommitResult {
  readonly transactionId: string
  /** The wallet's balance after the buy-in. */
  readonly newBalance: number
}
export interface ReleaseResult {
  readonly availableBalance: number
  readonly status: "RELEASED" | "EXPIRED"
}
export interface ExpireResult {
  readonly expired: boolean
  readonly lateByMs: number
}
export interface ContributeResult {
  readonly transactionId: string
  readonly totalPot: number
  readonly seatContribution: number
  readonly stack: number
}
export interface SettlementPayout {
  readonly seatId: number
  readonly accountId: string
  readonly transactionId: string
  readonly amount: number
  /** The winner's stack at the table after settlement. */
  readonly newBalance: number
}
export interface SettleResult {
  readonly results: ReadonlyArray<SettlementPayout>
  readonly rake: number
  readonly normalised: boolean
}
export interface CancelResult {
  readonly refunds: ReadonlyArray<{ readonly seatId: number; readonly accountId: string; readonly amount: number }>
}
export interface CashOutResult {
  readonly transactionId: string
  /** The wallet's balance after the cash-out. */
  readonly newBalance: number
  readonly stack: number
}

export interface ResultByOp {
  readonly EnsureAccount: EnsureAccountResult
  readonly Deposit: WalletMovementResult
  readonly Withdraw: WalletMovementResult
  readonly Reserve: ReserveResult
  readonly Commit: CommitResult
  readonly Release: ReleaseResult
  readonly Expire: ExpireResult
  readonly Contribute: ContributeResult
  readonly Settle: SettleResult
  readonly Cancel: CancelResult
  readonly CashOut: CashOutResult
}

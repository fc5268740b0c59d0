/**
 * What callers ask the ledger to do, after boundary validation (ids checked,
 * amounts safe positive integers). Each command names one operation; the
 * planner decides what it does to every account.
 */

export interface EnsureAccount {
  readonly op: "EnsureAccount"
  readonly accountId: string
  readonly initialBalance: number
}
export interface Deposit {
  readonly op: "Deposit"
  readonly accountId: string
  readonly amount: number
  readonly source: string
  readonly idempotencyKey: string
}
export interface Withdraw {
  readonly op: "Withdraw"
  readonly accountId: string
  readonly amount: number
  readonly reason: string
  readonly idempotencyKey: string
}
export interface Reserve {
  readonly op: "Reserve"
  readonly accountId: string
  readonly tableId: string
  readonly amount: number
  /** 0 means the configured default. */
  readonly timeoutMs: number
  readonly idempotencyKey: string
}
export interface Commit {
  readonly op: "Commit"
  readonly reservationId: string
}
export interface Release {
  readonly op: "Release"
  readonly reservationId: string
  readonly reason: string
}
export interface Expire {
  readonly op: "Expire"
  readonly reservationId: string
}
export interface Contribute {
  readonly op: "Contribute"
  readonly tableId: string
  readonly handId: string
  readonly seatId: number
  readonly accountId: string
  readonly amount: number
  readonly contributionType: string
  readonly idempotencyKey: string
}
export interface PotWinner {
  readonly seatId: number
  readonly accountId: string
  readonly amount: number
}
export interface Settle {
  readonly op: "Settle"
  readonly tableId: string
  readonly handId: string
  readonly winners: ReadonlyArray<PotWinner>
  readonly idempotencyKey: string
}
export interface Cancel {
  readonly op: "Cancel"
  readonly tableId: string
  readonly handId: string
  readonly reason: string
  readonly idempotencyKey?: string
}
export interface CashOut {
  readonly op: "CashOut"
  readonly accountId: string
  readonly tableId: string
  readonly seatId: number
  readonly amount: number
  readonly handId?: string
  readonly idempotencyKey: string
}

export type Command =
  | EnsureAccount
  | Deposit
  | Withdraw
  | Reserve
  | Commit
  | Release
  | Expire
  | Contribute
  | Settle
  | Cancel
  | CashOut

type CommandOp = Command["op"]

/** A Record over the union: an operation added to Command without an entry here does not compile. */
const commandOps: Readonly<Record<CommandOp, true>> = {
  EnsureAccount: true,
  Deposit: true,
  Withdraw: true,
  Reserve: true,
  Commit: true,
  Release: true,
  Expire: true,
  Contribute: true,
  Settle: true,
  Cancel: true,
  CashOut: true
}
/** Every operation, at runtime (metric labels). */
export const COMMAND_OPS = Object.keys(commandOps) as ReadonlyArray<CommandOp>

export const idempotencyKeyOf = (c: Command): string | undefined =>
  "idempotencyKey" in c ? c.idempotencyKey : undefined

/** Credits cannot bounce on replay, so they may be queued durably while the store is down (DESIGN 6). */
export const isQueueableCredit = (c: Command): boolean =>
  c.op === "Deposit" || c.op === "Release" || c.op === "CashOut" || c.op === "Settle" || c.op === "Cancel"

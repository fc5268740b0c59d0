import { emptyWallet, walletKey, type WalletState } from "./accounts.ts"
import type { Deposit, EnsureAccount, Withdraw } from "./commands.ts"
import { refuse, type Refusal } from "./errors.ts"
import { type Outcome, PlanBuilder } from "./plan.ts"
import type { EnsureAccountResult, WalletMovementResult } from "./responses.ts"

export const planEnsureAccount = (c: EnsureAccount, b: PlanBuilder): Outcome<EnsureAccountResult> | Refusal => {
  const key = walletKey(c.accountId)
  const existing = b.get<WalletState>(key)
  if (existing) return { _tag: "NoChange", response: { accountId: c.accountId, balance: existing.balance, created: false } }
  b.put(key, emptyWallet(c.accountId, b.ctx.now))
  if (c.initialBalance > 0) {
    b.transfer("GRANT", "mint", key, c.initialBalance, { parent: `account:${c.accountId}`, metadata: { reason: "initial balance" } })
  }
  return b.build({ accountId: c.accountId, balance: c.initialBalance, created: true })
}

/** Mint -> wallet or wallet -> burn, as one transfer that is its own parent. */
const moveWallet = (
  c: Deposit | Withdraw,
  b: PlanBuilder,
  metadata: Readonly<Record<string, string>>
): Outcome<WalletMovementResult> | Refusal => {
  const key = walletKey(c.accountId)
  const transferId = b.ctx.newId()
  const [type, from, to] = c.op === "Deposit" ? (["DEPOSIT", "mint", key] as const) : (["WITHDRAW", key, "burn"] as const)
  b.transfer(type, from, to, c.amount, { transferId, parent: `transfer:${transferId}`, metadata })
  const w = b.get<WalletState>(key)!
  return b.build({
    transactionId: transferId,
    accountId: c.accountId,
    amount: c.amount,
    balance: w.balance,
    availableBalance: w.balance - w.held
  })
}

export const planDeposit = (c: Deposit, b: PlanBuilder): Outcome<WalletMovementResult> | Refusal => {
  if (!b.get<WalletState>(walletKey(c.accountId))) {
    return refuse("ACCOUNT_NOT_FOUND", `account ${c.accountId} does not exist`, "accountId")
  }
  return moveWallet(c, b, { source: c.source, idempotencyKey: c.idempotencyKey })
}

export const planWithdraw = (c: Withdraw, b: PlanBuilder): Outcome<WalletMovementResult> | Refusal => {
  const wallet = b.get<WalletState>(walletKey(c.accountId))
  if (!wallet) return refuse("ACCOUNT_NOT_FOUND", `account ${c.accountId} does not exist`, "accountId")
  const available = wallet.balance - wallet.held
  if (available < c.amount) {
    return refuse("INSUFFICIENT_BALANCE", `available balance ${available} is less than ${c.amount}`, "amount")
  }
  return moveWallet(c, b, { reason: c.reason, idempotencyKey: c.idempotencyKey })
}

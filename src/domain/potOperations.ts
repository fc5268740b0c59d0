import { emptyPot, emptyStack, potKey, type PotState, stackKey, type StackState, walletKey, type WalletState } from "./accounts.ts"
import type { Cancel, CashOut, Contribute, Settle } from "./commands.ts"
import { refuse, type Refusal } from "./errors.ts"
import { type Outcome, PlanBuilder } from "./plan.ts"
import { computeRake, splitPot } from "./potMath.ts"
import type { CancelResult, CashOutResult, ContributeResult, SettlementPayout, SettleResult } from "./responses.ts"
import type { LedgerRules } from "./rules.ts"

export const planContribute = (c: Contribute, b: PlanBuilder): Outcome<ContributeResult> | Refusal => {
  const sKey = stackKey(c.tableId, c.accountId)
  const pKey = potKey(c.tableId, c.handId)
  const stack = b.get<StackState>(sKey)
  const stackBalance = stack?.balance ?? 0
  if (stackBalance < c.amount) {
    return refuse("INSUFFICIENT_STACK", `stack of ${c.accountId} at ${c.tableId} is ${stackBalance}, less than ${c.amount}`, "amount")
  }
  const existing = b.get<PotState>(pKey)
  if (existing && existing.status !== "ACTIVE") {
    return refuse("POT_NOT_ACTIVE", `pot ${c.tableId}/${c.handId} is ${existing.status}`)
  }
  // One account per seat and one seat per account in a hand: otherwise a second account could join
  // a seat's contributions and be paid what the seat won (settlement pays by seat).
  const clash = existing?.contributions.find((row) => (row.seatId === c.seatId) !== (row.accountId === c.accountId))
  if (clash) {
    return refuse(
      "INVALID_SEAT_ID",
      clash.seatId === c.seatId
        ? `seat ${c.seatId} is ${clash.accountId}'s in hand ${c.tableId}/${c.handId}`
        : `${c.accountId} plays seat ${clash.seatId} in hand ${c.tableId}/${c.handId}, not seat ${c.seatId}`,
      "seatId"
    )
  }
  if (!existing) {
    b.put(pKey, emptyPot(c.tableId, c.handId, b.ctx.now))
    b.stat("pots_open", 1)
  }
  const t = b.transfer("CONTRIBUTION", sKey, pKey, c.amount, {
    parent: `pot:${c.tableId}:${c.handId}`,
    metadata: {
      seatId: String(c.seatId),
      contributionType: c.contributionType,
      idempotencyKey: c.idempotencyKey
    }
  })
  const pot = b.get<PotState>(pKey)!
  let seatContribution = c.amount
  let found = false
  const contributions = pot.contributions.map((row) => {
    if (row.seatId !== c.seatId || row.accountId !== c.accountId) return row
    found = true
    seatContribution = row.amount + c.amount
    return { ...row, amount: seatContribution }
  })
  if (!found) contributions.push({ seatId: c.seatId, accountId: c.accountId, amount: c.amount })
  b.put(pKey, { ...pot, contributions })
  return b.build({
    transactionId: t.transferId,
    totalPot: pot.balance,
    seatContribution,
    stack: b.get<StackState>(sKey)!.balance
  })
}

export const planSettle = (c: Settle, b: PlanBuilder, rules: LedgerRules): Outcome<SettleResult> | Refusal => {
  const pKey = potKey(c.tableId, c.handId)
  const pot = b.get<PotState>(pKey)
  if (!pot) return refuse("POT_NOT_FOUND", `pot ${c.tableId}/${c.handId} does not exist`)
  if (pot.status !== "ACTIVE") return refuse("POT_NOT_ACTIVE", `pot ${c.tableId}/${c.handId} is ${pot.status}`)
  if (c.winners.length === 0) return refuse("INVALID_WINNERS", "at least one winner is required", "winners")
  if (new Set(c.winners.map((w) => w.seatId)).size !== c.winners.length) {
    return refuse("INVALID_WINNERS", "a seat may appear only once among the winners", "winners")
  }
  const outsider = c.winners.find((w) => !pot.contributions.some((row) => row.seatId === w.seatId && row.accountId === w.accountId))
  if (outsider) {
    return refuse("INVALID_WINNERS", `seat ${outsider.seatId} (${outsider.accountId}) did not contribute to this pot`, "winners")
  }
  const parent = `pot:${c.tableId}:${c.handId}`
  const rake = computeRake(pot.balance, rules.rake)
  if (rake > 0) b.transfer("RAKE", pKey, "rake", rake, { parent, metadata: { idempotencyKey: c.idempotencyKey } })
  const split = splitPot(pot.balance - rake, c.winners.map((w) => ({ seatId: w.seatId, requested: w.amount })))
  const results: Array<SettlementPayout> = []
  for (const [i, w] of c.winners.entries()) {
    const amount = split.amounts[i]!
    const sKey = stackKey(c.tableId, w.accountId)
    if (!b.get<StackState>(sKey)) b.put(sKey, emptyStack(c.tableId, w.accountId))
    const transferId = b.ctx.newId()
    if (amount > 0) {
      b.transfer("PAYOUT", pKey, sKey, amount, {
        transferId,
        parent,
        metadata: { seatId: String(w.seatId), requested: String(w.amount), idempotencyKey: c.idempotencyKey }
      })
    }
    results.push({ seatId: w.seatId, accountId: w.accountId, transactionId: amount > 0 ? transferId : "", amount, newBalance: 0 })
  }
  const settled = b.get<PotState>(pKey)!
  if (settled.balance !== 0) throw new Error(`planner bug: pot ${pKey} left with ${settled.balance}`)
  b.put(pKey, { ...settled, status: "SETTLED", closedAt: b.ctx.now })
  b.stat("pots_open", -1)
  b.stat("pots_settled", 1)
  if (split.normalised) b.stat("settlements_normalised", 1)
  const withStacks = results.map((r) => ({ ...r, newBalance: b.get<StackState>(stackKey(c.tableId, r.accountId))!.balance }))
  return b.build({ results: withStacks, rake, normalised: split.normalised })
}

export const planCancel = (c: Cancel, b: PlanBuilder): Outcome<CancelResult> | Refusal => {
  const pKey = potKey(c.tableId, c.handId)
  const pot = b.get<PotState>(pKey)
  if (!pot) return refuse("POT_NOT_FOUND", `pot ${c.tableId}/${c.handId} does not exist`)
  const refunds = () => pot.contributions.map((r) => ({ seatId: r.seatId, accountId: r.accountId, amount: r.amount }))
  // Cancelling a cancelled pot moves nothing and answers what the cancel refunded: the game's
  // CancelPot carries no idempotency key, so a retry after a lost answer must not look like a failure.
  // Only settled pots are archived (their contributions leave Redis): a cancelled one without them
  // would answer refunds it did not make.
  if (pot.status === "CANCELLED") {
    if (pot.archived === true) return b.inconsistent(`cancelled pot ${pKey} is marked archived: its refunds left Redis`)
    return { _tag: "NoChange", response: { refunds: refunds() } }
  }
  if (pot.status !== "ACTIVE") return refuse("POT_NOT_ACTIVE", `pot ${c.tableId}/${c.handId} is ${pot.status}`)
  const parent = `pot:${c.tableId}:${c.handId}`
  for (const row of pot.contributions) {
    const sKey = stackKey(c.tableId, row.accountId)
    if (!b.get<StackState>(sKey)) b.put(sKey, emptyStack(c.tableId, row.accountId))
    b.transfer("REFUND", pKey, sKey, row.amount, { parent, metadata: { seatId: String(row.seatId), reason: c.reason } })
  }
  const cancelled = b.get<PotState>(pKey)!
  // The refunds are the contributions: a balance left over means the pot's rows do not add up to it.
  if (cancelled.balance !== 0) return b.inconsistent(`pot ${pKey} left with ${cancelled.balance} after refunding every contribution`)
  b.put(pKey, { ...cancelled, status: "CANCELLED", closedAt: b.ctx.now })
  b.stat("pots_open", -1)
  b.stat("pots_cancelled", 1)
  return b.build({ refunds: refunds() })
}

export const planCashOut = (c: CashOut, b: PlanBuilder): Outcome<CashOutResult> | Refusal => {
  const wKey = walletKey(c.accountId)
  const sKey = stackKey(c.tableId, c.accountId)
  if (!b.get<WalletState>(wKey)) return refuse("ACCOUNT_NOT_FOUND", `account ${c.accountId} does not exist`, "accountId")
  const stackBalance = b.get<StackState>(sKey)?.balance ?? 0
  if (stackBalance < c.amount) {
    return refuse("INSUFFICIENT_STACK", `stack of ${c.accountId} at ${c.tableId} is ${stackBalance}, less than ${c.amount}`, "amount")
  }
  const metadata: Record<string, string> = { tableId: c.tableId, seatId: String(c.seatId), idempotencyKey: c.idempotencyKey }
  if (c.handId) metadata.handId = c.handId
  const transferId = b.ctx.newId()
  b.transfer("CASH_OUT", sKey, wKey, c.amount, { transferId, parent: `transfer:${transferId}`, metadata })
  return b.build({
    transactionId: transferId,
    newBalance: b.get<WalletState>(wKey)!.balance,
    stack: b.get<StackState>(sKey)!.balance
  })
}

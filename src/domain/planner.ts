import { potKey, reservationKey, type PotState, type ReservationState, stackKey, walletKey } from "./accounts.ts"
import type { Command } from "./commands.ts"
import type { Refusal } from "./errors.ts"
import { type Inconsistent, InconsistentState, type Outcome, PlanBuilder, type PlanContext, type State } from "./plan.ts"
import { planCancel, planCashOut, planContribute, planSettle } from "./potOperations.ts"
import { planCommit, planExpire, planRelease, planReserve } from "./reservationOperations.ts"
import type { ResultByOp } from "./responses.ts"
import type { LedgerRules } from "./rules.ts"
import { planDeposit, planEnsureAccount, planWithdraw } from "./walletOperations.ts"

/**
 * The keys a command reads and may write, given what is known so far. Some
 * depend on stored state (a commit touches the wallet named by its
 * reservation), so callers load, ask again, and stop when nothing is missing.
 */
export const keysFor = (c: Command, state: State): ReadonlyArray<string> => {
  switch (c.op) {
    case "EnsureAccount":
    case "Deposit":
    case "Withdraw":
      return [walletKey(c.accountId)]
    case "Reserve":
      return [walletKey(c.accountId)]
    case "Commit":
    case "Release":
    case "Expire": {
      const rKey = reservationKey(c.reservationId)
      const r = state.get(rKey)?.value as ReservationState | null | undefined
      if (!r) return [rKey]
      return c.op === "Commit"
        ? [rKey, walletKey(r.accountId), stackKey(r.tableId, r.accountId)]
        : [rKey, walletKey(r.accountId)]
    }
    case "Contribute":
      return [stackKey(c.tableId, c.accountId), potKey(c.tableId, c.handId)]
    case "Settle":
      return [potKey(c.tableId, c.handId), ...c.winners.map((w) => stackKey(c.tableId, w.accountId))]
    case "Cancel": {
      const pKey = potKey(c.tableId, c.handId)
      const pot = state.get(pKey)?.value as PotState | null | undefined
      return pot ? [pKey, ...pot.contributions.map((row) => stackKey(c.tableId, row.accountId))] : [pKey]
    }
    case "CashOut":
      return [walletKey(c.accountId), stackKey(c.tableId, c.accountId)]
  }
}

export const missingKeys = (c: Command, state: State): ReadonlyArray<string> =>
  keysFor(c, state).filter((k) => !state.has(k))

const NOTHING_OPENED: ReadonlyArray<string> = []

/**
 * The keys of `keysFor` that the command creates when they are absent: a Contribute's pot (the
 * hand's first contribution opens it). Every other absent object is refused (a pot to settle, a
 * reservation to commit), or is a stack, which nothing but a commit creates and which never leaves Redis.
 */
export const keysOpenedBy = (c: Command): ReadonlyArray<string> =>
  c.op === "Contribute" ? [potKey(c.tableId, c.handId)] : NOTHING_OPENED

/**
 * The one place that decides what each operation does to every account.
 * `state` must hold every key of `keysFor` (absent objects as version 0).
 * A state that contradicts itself is answered `Inconsistent`; anything the
 * planner throws is a bug.
 */
export const plan = <C extends Command>(
  c: C,
  state: State,
  ctx: PlanContext,
  rules: LedgerRules
): Outcome<ResultByOp[C["op"]]> | Refusal | Inconsistent => {
  try {
    return planOperation(c, new PlanBuilder(state, ctx), rules)
  } catch (e) {
    if (e instanceof InconsistentState) return { _tag: "Inconsistent", reason: e.message }
    throw e
  }
}

const planOperation = <C extends Command>(c: C, b: PlanBuilder, rules: LedgerRules): Outcome<ResultByOp[C["op"]]> | Refusal => {
  const outcome = (() => {
    switch (c.op) {
      case "EnsureAccount":
        return planEnsureAccount(c, b)
      case "Deposit":
        return planDeposit(c, b)
      case "Withdraw":
        return planWithdraw(c, b)
      case "Reserve":
        return planReserve(c, b, rules)
      case "Commit":
        return planCommit(c, b)
      case "Release":
        return planRelease(c, b)
      case "Expire":
        return planExpire(c, b)
      case "Contribute":
        return planContribute(c, b)
      case "Settle":
        return planSettle(c, b, rules)
      case "Cancel":
        return planCancel(c, b)
      case "CashOut":
        return planCashOut(c, b)
    }
  })()
  return outcome as Outcome<ResultByOp[C["op"]]> | Refusal
}

import {
  emptyStack,
  isClosed,
  reservationKey,
  type ReservationState,
  stackKey,
  type StackState,
  walletKey,
  type WalletState
} from "./accounts.ts"
import type { Commit, Expire, Release, Reserve } from "./commands.ts"
import { refuse, type Refusal } from "./errors.ts"
import { type Outcome, PlanBuilder } from "./plan.ts"
import type { CommitResult, ExpireResult, ReleaseResult, ReserveResult } from "./responses.ts"
import { type LedgerRules, MAX_RESERVATION_TIMEOUT_MS } from "./rules.ts"

export const planReserve = (c: Reserve, b: PlanBuilder, rules: LedgerRules): Outcome<ReserveResult> | Refusal => {
  // The request alone decides this one, so it comes before anything the state decides (REFUSALS: not transient).
  if (c.timeoutMs < 0 || c.timeoutMs > MAX_RESERVATION_TIMEOUT_MS || !Number.isInteger(c.timeoutMs)) {
    return refuse("INVALID_TIMEOUT", `timeout must be between 0 (default) and ${MAX_RESERVATION_TIMEOUT_MS / 1000} seconds`, "timeoutSeconds")
  }
  const wKey = walletKey(c.accountId)
  const wallet = b.get<WalletState>(wKey)
  if (!wallet) return refuse("ACCOUNT_NOT_FOUND", `account ${c.accountId} does not exist`, "accountId")
  const available = wallet.balance - wallet.held
  if (available < c.amount) {
    return refuse("INSUFFICIENT_BALANCE", `available balance ${available} is less than ${c.amount}`, "amount")
  }
  const reservationId = b.ctx.newId()
  const expiresAt = b.ctx.now + (c.timeoutMs > 0 ? c.timeoutMs : rules.reservationTimeoutMs)
  const reservation: ReservationState = {
    kind: "reservation",
    reservationId,
    accountId: c.accountId,
    tableId: c.tableId,
    amount: c.amount,
    status: "HELD",
    createdAt: b.ctx.now,
    expiresAt,
    idempotencyKey: c.idempotencyKey
  }
  b.put(reservationKey(reservationId), reservation)
  const after = b.entry(wKey, "HOLD", 0, c.amount, {
    transferId: "",
    parent: `reservation:${reservationId}`,
    metadata: { tableId: c.tableId, idempotencyKey: c.idempotencyKey }
  }, (a, _balance, held) => ({ ...(a as WalletState), held })) as WalletState
  b.scheduleExpiry(reservationId, expiresAt)
  b.stat("held", c.amount)
  b.stat("reservations_active", 1)
  b.stat("reservations_created", 1)
  return b.build({ reservationId, availableBalance: after.balance - after.held, expiresAt })
}

export const planCommit = (c: Commit, b: PlanBuilder): Outcome<CommitResult> | Refusal => {
  const rKey = reservationKey(c.reservationId)
  const r = b.get<ReservationState>(rKey)
  if (!r) return refuse("RESERVATION_NOT_FOUND", `reservation ${c.reservationId} does not exist`, "reservationId")
  if (r.status === "COMMITTED" && r.commit) return { _tag: "NoChange", response: r.commit }
  if (r.status !== "HELD") return refuse("RESERVATION_NOT_HELD", `reservation ${c.reservationId} is ${r.status}`)
  if (b.ctx.now >= r.expiresAt) {
    return refuse("RESERVATION_EXPIRED", `reservation ${c.reservationId} expired at ${new Date(r.expiresAt).toISOString()}`)
  }
  const wKey = walletKey(r.accountId)
  const sKey = stackKey(r.tableId, r.accountId)
  if (!b.get<StackState>(sKey)) b.put(sKey, emptyStack(r.tableId, r.accountId))
  const transferId = b.ctx.newId()
  const movement = { transferId, parent: `reservation:${r.reservationId}`, metadata: { tableId: r.tableId } }
  // The hold becomes the debit: one wallet entry takes the chips and drops the hold together.
  const wallet = b.entry(wKey, "BUY_IN", -r.amount, -r.amount, movement, (a, balance, held) => ({
    ...(a as WalletState),
    balance,
    held
  })) as WalletState
  b.entry(sKey, "BUY_IN", r.amount, 0, movement, (a, balance) => ({ ...a, balance }))
  b.recordTransfer("BUY_IN", wKey, sKey, r.amount, movement)
  const commit = { transactionId: transferId, newBalance: wallet.balance }
  b.put(rKey, { ...r, status: "COMMITTED", closedAt: b.ctx.now, commit })
  b.unscheduleExpiry(r.reservationId)
  b.stat("held", -r.amount)
  b.stat("reservations_active", -1)
  b.stat("reservations_committed", 1)
  return b.build(commit)
}

const voidReservation = (
  b: PlanBuilder,
  r: ReservationState,
  status: "RELEASED" | "EXPIRED",
  reason: string
): WalletState => {
  const wKey = walletKey(r.accountId)
  const wallet = b.entry(wKey, status === "RELEASED" ? "RELEASE" : "EXPIRE", 0, -r.amount, {
    transferId: "",
    parent: `reservation:${r.reservationId}`,
    metadata: { tableId: r.tableId, reason }
  }, (a, _balance, held) => ({ ...(a as WalletState), held })) as WalletState
  b.put(reservationKey(r.reservationId), { ...r, status, closedAt: b.ctx.now, closeReason: reason })
  b.unscheduleExpiry(r.reservationId)
  b.stat("held", -r.amount)
  b.stat("reservations_active", -1)
  b.stat(status === "RELEASED" ? "reservations_released" : "reservations_expired", 1)
  return wallet
}

export const planRelease = (c: Release, b: PlanBuilder): Outcome<ReleaseResult> | Refusal => {
  const r = b.get<ReservationState>(reservationKey(c.reservationId))
  if (!r) return refuse("RESERVATION_NOT_FOUND", `reservation ${c.reservationId} does not exist`, "reservationId")
  if (r.status === "COMMITTED") return refuse("ALREADY_COMMITTED", `reservation ${c.reservationId} was committed`)
  const wallet = b.get<WalletState>(walletKey(r.accountId))
  if (!wallet) return b.inconsistent(`reservation ${r.reservationId} without wallet`)
  if (r.status !== "HELD") {
    return { _tag: "NoChange", response: { availableBalance: wallet.balance - wallet.held, status: r.status } }
  }
  const after = voidReservation(b, r, "RELEASED", c.reason)
  return b.build({ availableBalance: after.balance - after.held, status: "RELEASED" as const })
}

/** The sweep's command: voids a HELD reservation whose deadline passed; anything else is left alone. */
export const planExpire = (c: Expire, b: PlanBuilder): Outcome<ExpireResult> | Refusal => {
  const r = b.get<ReservationState>(reservationKey(c.reservationId))
  if (!r || isClosed(r)) {
    if (r) b.unscheduleExpiry(r.reservationId)
    return r ? b.build({ expired: false, lateByMs: 0 }) : { _tag: "NoChange", response: { expired: false, lateByMs: 0 } }
  }
  if (b.ctx.now < r.expiresAt) return { _tag: "NoChange", response: { expired: false, lateByMs: 0 } }
  voidReservation(b, r, "EXPIRED", "expired")
  return b.build({ expired: true, lateByMs: b.ctx.now - r.expiresAt })
}

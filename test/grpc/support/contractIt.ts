import type { Vitest } from "@effect/vitest"
import { Effect } from "effect"
import type { GrpcServerAddress } from "../../../src/api/grpc/GrpcServer.ts"
import type { LedgerVerifier } from "../../../src/ledger/LedgerVerifier.ts"
import type { BalanceClient } from "./balanceClient.ts"
import { call, ok } from "./expectations.ts"
import type { ShiftableClock } from "./shiftableClock.ts"

/** What every contract section may use; the store behind the server is the suite's parameter. */
export type ContractIt = Vitest.MethodsNonLive<BalanceClient | ShiftableClock | LedgerVerifier | GrpcServerAddress>

/** A wallet with `chips` granted at creation. */
export const ensure = (accountId: string, chips: number) =>
  Effect.tap(call("EnsureAccount", { account_id: accountId, initial_balance: String(chips) }), (r) =>
    r.created ? Effect.void : Effect.die(new Error(`account ${accountId} already existed`)))

/** Reserve + commit: `chips` of the wallet become the player's stack at `tableId`. */
export const buyIn = (accountId: string, tableId: string, chips: number) =>
  Effect.gen(function*() {
    const r = yield* ok("ReserveForBuyIn", {
      account_id: accountId,
      table_id: tableId,
      amount: String(chips),
      idempotency_key: `buyin-${accountId}-${tableId}-${chips}`
    })
    return yield* ok("CommitReservation", { reservation_id: r.reservation_id })
  })

/** A wallet with `wallet` chips of which `stack` sit at `tableId`. */
export const seated = (accountId: string, tableId: string, wallet: number, stack: number) =>
  Effect.andThen(ensure(accountId, wallet), buyIn(accountId, tableId, stack))

let keys = 0
/** A fresh idempotency key. */
export const key = (label = "k") => `${label}-${++keys}`

export const contribute = (tableId: string, handId: string, seatId: number, accountId: string, amount: number, type = "BET") =>
  call("RecordContribution", {
    table_id: tableId,
    hand_id: handId,
    seat_id: seatId,
    account_id: accountId,
    amount: String(amount),
    contribution_type: type,
    idempotency_key: key("c")
  })

export const balanceOf = (accountId: string) => Effect.map(call("GetBalance", { account_id: accountId }), (r) => Number(r.balance))
export const stackOf = (tableId: string, accountId: string) =>
  Effect.map(call("GetTableStack", { table_id: tableId, account_id: accountId }), (r) => Number(r.balance))

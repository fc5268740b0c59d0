import type { Command } from "../../src/domain/commands.ts"
import type { Message } from "./proto.ts"

/**
 * The game's wire requests (workloads.ts) as ledger commands, for the scripts that play the game
 * in process instead of over gRPC (bench-store.ts, profile-apply-lua.ts).
 */
export const commandOf = (method: string, r: Message): Command => {
  switch (method) {
    case "ReserveForBuyIn":
      return { op: "Reserve", accountId: r.account_id, tableId: r.table_id, amount: Number(r.amount), timeoutMs: 0, idempotencyKey: r.idempotency_key }
    case "CommitReservation":
      return { op: "Commit", reservationId: r.reservation_id }
    case "RecordContribution":
      return {
        op: "Contribute", tableId: r.table_id, handId: r.hand_id, seatId: r.seat_id, accountId: r.account_id,
        amount: Number(r.amount), contributionType: r.contribution_type, idempotencyKey: r.idempotency_key
      }
    case "SettlePot":
      return {
        op: "Settle", tableId: r.table_id, handId: r.hand_id, idempotencyKey: r.idempotency_key,
        winners: (r.winners as Array<Message>).map((w) => ({ seatId: w.seat_id, accountId: w.account_id, amount: Number(w.amount) }))
      }
    case "ProcessCashOut":
      return { op: "CashOut", accountId: r.account_id, tableId: r.table_id, seatId: r.seat_id, amount: Number(r.amount), handId: r.hand_id, idempotencyKey: r.idempotency_key }
    default:
      throw new Error(`the in-process game does not play ${method}`)
  }
}

/** Snake-case fields the game loop reads back from responses. */
export const wireResponse = (result: unknown): Message => {
  const r = result as Record<string, unknown>
  return { ok: true, reservation_id: r.reservationId }
}

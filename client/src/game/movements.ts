import { BalanceRefusal } from "../errors.ts"
import type { BalanceClient } from "../BalanceClient.ts"

/**
 * A chip movement as the game sees it: what a hand does to the books. Each
 * carries its idempotency key, fixed before the first attempt and kept through
 * retries, the journal and replays, so the service applies it at most once.
 */
export type Movement =
  | {
    readonly kind: "buy-in"
    readonly tableId: string
    readonly accountId: string
    readonly amount: number
    readonly key: string
    /** Set when the hold was taken online and only the commit could not be made. */
    readonly reservationId?: string
  }
  | {
    readonly kind: "contribution"
    readonly tableId: string
    readonly handId: string
    readonly seatId: number
    readonly accountId: string
    readonly amount: number
    readonly contributionType: string
    readonly key: string
  }
  | {
    readonly kind: "settle"
    readonly tableId: string
    readonly handId: string
    readonly winners: ReadonlyArray<{ readonly seatId: number; readonly accountId: string; readonly amount: number }>
    readonly key: string
  }
  | { readonly kind: "cancel"; readonly tableId: string; readonly handId: string; readonly reason: string; readonly key: string }
  | {
    readonly kind: "cash-out"
    readonly tableId: string
    readonly accountId: string
    readonly seatId: number
    readonly amount: number
    readonly handId?: string
    readonly key: string
  }

export type MovementKind = Movement["kind"]

/** What the service answered for an applied movement (for the journal and the shadow comparison). */
export interface MovementResult {
  readonly transactionIds: ReadonlyArray<string>
  /** The mover's stack at the table afterwards, when the service says. */
  readonly stackAfter?: number
  /** Per winner, for a settle. */
  readonly stacksAfter?: Readonly<Record<string, number>>
  /** The service accepted it into its own durable credit queue (its store was down): applied there later. */
  readonly queued?: boolean
}

/** The accounts a movement touches (for the journal's ordering barrier and the report). */
export const accountsOf = (m: Movement): ReadonlyArray<string> => {
  switch (m.kind) {
    case "settle":
      return m.winners.map((w) => w.accountId)
    case "cancel":
      return []
    default:
      return [m.accountId]
  }
}

/**
 * Whether another movement is of the same table or of one of the same players as `movement`: the
 * two must reach the service in the order the game made them (a bet behind its buy-in).
 */
export const sharesTableOrPlayer = (movement: Movement): ((other: Movement) => boolean) => {
  const accounts = new Set(accountsOf(movement))
  return (other) => other.tableId === movement.tableId || accountsOf(other).some((a) => accounts.has(a))
}

/** Chips the movement moves, as the report counts them. */
export const chipsOf = (m: Movement): number =>
  m.kind === "settle" ? m.winners.reduce((s, w) => s + w.amount, 0) : m.kind === "cancel" ? 0 : m.amount

const whole = (n: unknown) => typeof n === "number" && Number.isSafeInteger(n)
const seat = (n: unknown) => typeof n === "number" && Number.isInteger(n) && n >= -(2 ** 31) && n < 2 ** 31

/**
 * A movement whose chips or seats are not whole numbers, refused the way the service refuses
 * such input (INVALID_AMOUNT, INVALID_SEAT_ID; nothing moved) before it is sent or journaled:
 * on the wire an amount 25.5 would become 25, and the game's books and the service's would
 * part without either side knowing. The service still judges everything else (positive, covered).
 */
export const movementProblem = (m: Movement): { readonly code: "INVALID_AMOUNT" | "INVALID_SEAT_ID"; readonly message: string } | undefined => {
  const amount = (field: string, v: unknown) =>
    whole(v) ? undefined : { code: "INVALID_AMOUNT" as const, message: `${field}: must be a whole number of chips, not ${JSON.stringify(v) ?? String(v)}` }
  const seatId = (field: string, v: unknown) =>
    seat(v) ? undefined : { code: "INVALID_SEAT_ID" as const, message: `${field}: must be a whole number, not ${JSON.stringify(v) ?? String(v)}` }
  switch (m.kind) {
    case "buy-in":
      return amount("amount", m.amount)
    case "contribution":
    case "cash-out":
      return amount("amount", m.amount) ?? seatId("seatId", m.seatId)
    case "settle":
      for (const [i, w] of m.winners.entries()) {
        const problem = amount(`winners[${i}].amount`, w.amount) ?? seatId(`winners[${i}].seatId`, w.seatId)
        if (problem !== undefined) return problem
      }
      return undefined
    case "cancel":
      return undefined
  }
}

/** Hold lapsed before the commit (a long outage, a crash between the two): take a new hold under a derived key. */
const LAPSED = new Set(["RESERVATION_NOT_HELD", "RESERVATION_EXPIRED"])
const MAX_REHOLDS = 3

const buyIn = async (client: BalanceClient, m: Extract<Movement, { kind: "buy-in" }>): Promise<MovementResult> => {
  const commit = (reservationId: string) => client.checked("CommitReservation", { reservation_id: reservationId })
  const hold = (key: string) =>
    client.checked("ReserveForBuyIn", { account_id: m.accountId, table_id: m.tableId, amount: m.amount, idempotency_key: key })
  // The same sequence of keys every time: a replay after a crash at any point finds the holds it already took
  // (the service answers a repeated key with the original reservation, a repeated commit with its original success).
  let reservationId = m.reservationId ?? (await hold(m.key)).reservation_id
  for (let again = 1; ; again++) {
    try {
      const r = await commit(reservationId)
      return { transactionIds: [r.transaction_id] }
    } catch (e) {
      if (!(e instanceof BalanceRefusal) || !LAPSED.has(e.code) || again > MAX_REHOLDS) throw e
      reservationId = (await hold(`${m.key}:hold${again}`)).reservation_id
    }
  }
}

/** Applies the movement on the service. Throws BalanceRefusal / BalanceUnavailable / BalanceCallError. */
export const applyMovement = async (client: BalanceClient, m: Movement): Promise<MovementResult> => {
  switch (m.kind) {
    case "buy-in":
      return buyIn(client, m)
    case "contribution": {
      const r = await client.checked("RecordContribution", {
        table_id: m.tableId,
        hand_id: m.handId,
        seat_id: m.seatId,
        account_id: m.accountId,
        amount: m.amount,
        contribution_type: m.contributionType,
        idempotency_key: m.key
      })
      return { transactionIds: [r.transaction_id], stackAfter: Number(r.stack_balance) }
    }
    case "settle": {
      const r = await client.checked("SettlePot", {
        table_id: m.tableId,
        hand_id: m.handId,
        winners: m.winners.map((w) => ({ seat_id: w.seatId, account_id: w.accountId, amount: w.amount })),
        idempotency_key: m.key
      })
      if (r.queued) return { transactionIds: [], queued: true }
      return {
        transactionIds: r.results.map((x) => x.transaction_id),
        stacksAfter: Object.fromEntries(r.results.map((x) => [x.account_id, Number(x.new_balance)]))
      }
    }
    case "cancel": {
      const r = await client.checked("CancelPot", { table_id: m.tableId, hand_id: m.handId, reason: m.reason, idempotency_key: m.key })
      return r.queued ? { transactionIds: [], queued: true } : { transactionIds: [] }
    }
    case "cash-out": {
      const r = await client.checked("ProcessCashOut", {
        account_id: m.accountId,
        table_id: m.tableId,
        seat_id: m.seatId,
        amount: m.amount,
        idempotency_key: m.key,
        ...(m.handId === undefined ? {} : { hand_id: m.handId })
      })
      return r.queued ? { transactionIds: [], queued: true } : { transactionIds: [r.transaction_id], stackAfter: Number(r.stack_balance) }
    }
  }
}

import type { RefusalCode } from "../../domain/errors.ts"
import type { Refusal } from "../../domain/errors.ts"
import type { LedgerContention } from "../../ledger/LedgerErrors.ts"
import type { StoreUnavailable } from "../../store/StoreErrors.ts"
import { BadRequest, Conflict, NotFound, storeUnavailable, Unavailable, Unprocessable } from "./ApiErrors.ts"

/**
 * The one table from refusal code to HTTP status. A Record over the literal
 * union, so adding a RefusalCode without deciding its status does not compile.
 */
export const REFUSAL_STATUS: Readonly<Record<RefusalCode, 400 | 404 | 409 | 422>> = {
  INVALID_ACCOUNT_ID: 400,
  INVALID_TABLE_ID: 400,
  INVALID_HAND_ID: 400,
  INVALID_RESERVATION_ID: 400,
  INVALID_AMOUNT: 400,
  INVALID_SEAT_ID: 400,
  INVALID_WINNERS: 400,
  INVALID_REASON: 400,
  INVALID_TIMEOUT: 400,
  INVALID_ARGUMENT: 400,
  MISSING_IDEMPOTENCY_KEY: 400,
  INVALID_IDEMPOTENCY_KEY: 400,
  ACCOUNT_NOT_FOUND: 404,
  RESERVATION_NOT_FOUND: 404,
  POT_NOT_FOUND: 404,
  IDEMPOTENCY_KEY_REUSED: 409,
  INSUFFICIENT_BALANCE: 422,
  INSUFFICIENT_STACK: 422,
  RESERVATION_NOT_HELD: 422,
  RESERVATION_EXPIRED: 422,
  ALREADY_COMMITTED: 422,
  POT_NOT_ACTIVE: 422,
  AMOUNT_OVERFLOW: 422
}

export type RefusalError = BadRequest | NotFound | Conflict | Unprocessable

export const fromRefusal = (r: Refusal): RefusalError => {
  const body = r.field === undefined
    ? { error: r.code, message: r.message }
    : { error: r.code, message: r.message, details: { field: r.field } }
  switch (REFUSAL_STATUS[r.code]) {
    case 400:
      return new BadRequest(body)
    case 404:
      return new NotFound(body)
    case 409:
      return new Conflict(body)
    case 422:
      return new Unprocessable(body)
  }
}

/** Everything Ledger.execute can fail with, as the API error it becomes. */
export const fromExecuteError = (e: Refusal | StoreUnavailable | LedgerContention): RefusalError | Unavailable => {
  switch (e._tag) {
    case "Refusal":
      return fromRefusal(e)
    case "StoreUnavailable":
      return storeUnavailable()
    case "LedgerContention":
      return new Conflict({ error: "LEDGER_CONTENTION", message: e.message })
  }
}

import { type Refusal, REFUSALS, type RefusalCode } from "../../domain/errors.ts"
import type { LedgerContention } from "../../ledger/LedgerErrors.ts"
import type { StoreUnavailable } from "../../store/StoreErrors.ts"
import { apiErrorAt, type BadRequest, Conflict, type NotFound, storeUnavailable, type Unavailable, type Unprocessable } from "./ApiErrors.ts"

export type RefusalError = BadRequest | NotFound | Conflict | Unprocessable

/**
 * The refusal as the error class of the status its REFUSALS row gives; that class's `error` enum
 * is read from the same row (errorCodes.ts), so the code always fits it.
 */
export const fromRefusal = (r: Refusal): RefusalError => {
  // The class's constructor checks the code against its enum, so the one cast cannot let a wrong code through.
  const ErrorClass = apiErrorAt(REFUSALS[r.code].http) as new(fields: {
    readonly error: RefusalCode
    readonly message: string
    readonly details?: unknown
  }) => RefusalError
  return new ErrorClass({ error: r.code, message: r.message, ...(r.field === undefined ? {} : { details: { field: r.field } }) })
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

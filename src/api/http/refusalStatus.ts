import type { Refusal } from "../../domain/errors.ts"
import type { LedgerContention } from "../../ledger/LedgerErrors.ts"
import type { StoreUnavailable } from "../../store/StoreErrors.ts"
import { BadRequest, Conflict, NotFound, storeUnavailable, Unavailable, Unprocessable } from "./ApiErrors.ts"
import { isRefusalAt } from "./errorCodes.ts"

export type RefusalError = BadRequest | NotFound | Conflict | Unprocessable

export const fromRefusal = (r: Refusal): RefusalError => {
  const code = r.code
  const body = { message: r.message, ...(r.field === undefined ? {} : { details: { field: r.field } }) }
  if (isRefusalAt(code, 400)) return new BadRequest({ error: code, ...body })
  if (isRefusalAt(code, 404)) return new NotFound({ error: code, ...body })
  if (isRefusalAt(code, 409)) return new Conflict({ error: code, ...body })
  return new Unprocessable({ error: code, ...body })
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

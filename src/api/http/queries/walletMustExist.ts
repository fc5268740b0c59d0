import { Effect } from "effect"
import type { Ledger } from "../../../ledger/Ledger.ts"
import { NotFound, storeUnavailable } from "../ApiErrors.ts"

/** 404 ACCOUNT_NOT_FOUND (naming the field) unless the wallet exists; for routes that take an accountId in the body. */
export const walletMustExist = (ledger: Ledger["Service"], accountId: string) =>
  Effect.flatMap(ledger.wallet(accountId).pipe(Effect.mapError(storeUnavailable)), (wallet) =>
    wallet.value === null
      ? Effect.fail(new NotFound({ error: "ACCOUNT_NOT_FOUND", message: `account ${accountId} does not exist`, details: { field: "accountId" } }))
      : Effect.void)

import { Effect } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { walletKey } from "../../../domain/accounts.ts"
import type { TransferType } from "../../../domain/transfer.ts"
import { Ledger } from "../../../ledger/Ledger.ts"
import { NotFound, storeUnavailable } from "../ApiErrors.ts"
import { BalanceApi } from "../BalanceApi.ts"
import { decodeCursor, nextCursorOf } from "../cursor.ts"
import { accountReservations } from "../queries/accountReservations.ts"
import { filteredTransfers } from "../queries/filteredTransfers.ts"
import { DEFAULT_LIMIT } from "../schemas/CommonSchemas.ts"
import { accountTransactionView, balanceView, entryView, reservationView } from "../views.ts"

const accountNotFound = (accountId: string) =>
  new NotFound({ error: "ACCOUNT_NOT_FOUND", message: `account ${accountId} does not exist`, details: { field: "accountId" } })

export const AccountHandlers = HttpApiBuilder.group(BalanceApi, "accounts", Effect.fnUntraced(function*(handlers) {
  const ledger = yield* Ledger

  /** The wallet, or 404; every read of an account starts here. */
  const existingWallet = (accountId: string) =>
    ledger.wallet(accountId).pipe(
      Effect.mapError(storeUnavailable),
      Effect.flatMap((observed) =>
        observed.value === null ? Effect.fail(accountNotFound(accountId)) : Effect.succeed({ observed, wallet: observed.value })
      )
    )

  return handlers
    .handle("balance", ({ params }) =>
      existingWallet(params.accountId).pipe(Effect.map(({ observed, wallet }) => balanceView(params.accountId, observed, wallet))))
    .handle("transactions", Effect.fnUntraced(function*({ params, query }) {
      const account = walletKey(params.accountId)
      const scope = `tx:${account}`
      const start = yield* decodeCursor(scope, query.cursor)
      yield* existingWallet(params.accountId)
      const page = yield* filteredTransfers(ledger, account, start, query.limit ?? DEFAULT_LIMIT, {
        ...(query.type === undefined ? {} : { types: new Set(query.type.split(",") as Array<TransferType>) }),
        ...(query.from === undefined ? {} : { since: Date.parse(query.from) }),
        ...(query.to === undefined ? {} : { before: Date.parse(query.to) })
      }).pipe(Effect.mapError(storeUnavailable))
      return {
        accountId: params.accountId,
        items: page.items.map((t) => accountTransactionView(account, t)),
        nextCursor: nextCursorOf(scope, page.nextCursor)
      }
    }))
    .handle("ledger", Effect.fnUntraced(function*({ params, query }) {
      yield* existingWallet(params.accountId)
      const limit = query.limit ?? DEFAULT_LIMIT
      // One extra entry tells whether another page exists.
      const entries = yield* ledger.entries(walletKey(params.accountId), Number(query.cursor ?? "0"), limit + 1).pipe(
        Effect.mapError(storeUnavailable)
      )
      const items = entries.slice(0, limit)
      return {
        accountId: params.accountId,
        items: items.map(entryView),
        nextCursor: entries.length > limit ? String(items[items.length - 1]!.seq) : null
      }
    }))
    .handle("reservations", Effect.fnUntraced(function*({ params, query }) {
      const { wallet } = yield* existingWallet(params.accountId)
      const found = yield* accountReservations(ledger, wallet, {
        ...(query.status === undefined ? {} : { status: query.status }),
        limit: query.limit ?? DEFAULT_LIMIT
      }).pipe(Effect.mapError(storeUnavailable))
      return { accountId: params.accountId, held: wallet.held, items: found.map(reservationView) }
    }))
}))

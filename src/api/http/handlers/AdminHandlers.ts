import { Effect } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { stackKeyPrefix, walletKey, type WalletState } from "../../../domain/accounts.ts"
import { calculatePots } from "../../../domain/potMath.ts"
import { Ledger } from "../../../ledger/Ledger.ts"
import { LedgerVerifier } from "../../../ledger/LedgerVerifier.ts"
import type { Page } from "../../../store/Store.ts"
import { NotFound, storeUnavailable } from "../ApiErrors.ts"
import { BalanceApi } from "../BalanceApi.ts"
import { decodeCursor, nextCursorOf } from "../cursor.ts"
import { supplyReport } from "../queries/supplyReport.ts"
import { transferEvents } from "../queries/transferEvents.ts"
import { walletMustExist } from "../queries/walletMustExist.ts"
import { DEFAULT_LIMIT, iso } from "../schemas/CommonSchemas.ts"
import { reportView, reservationView, transferView } from "../views.ts"

/** A table's stacks are listed in full; this bounds how many one request reads. */
const MAX_STACKS = 2_000

export const AdminHandlers = HttpApiBuilder.group(BalanceApi, "admin", Effect.fnUntraced(function*(handlers) {
  const ledger = yield* Ledger
  const verifier = yield* LedgerVerifier

  return handlers
    .handle("listAccounts", Effect.fnUntraced(function*({ query }) {
      const scope = "accounts"
      const start = yield* decodeCursor(scope, query.cursor)
      const page = yield* ledger.accounts(start, query.limit ?? DEFAULT_LIMIT, walletKey(query.prefix ?? ""))
      const wallets = yield* Effect.forEach(page.items, (key) => ledger.wallet(key.slice(2)), { concurrency: 8 })
      const items = wallets.flatMap((o) => {
        const w: WalletState | null = o.value
        return w === null ? [] : [{
          accountId: w.accountId,
          balance: w.balance,
          held: w.held,
          availableBalance: w.balance - w.held,
          version: o.version,
          createdAt: iso(w.createdAt)
        }]
      })
      return { items, nextCursor: nextCursorOf(scope, page.nextCursor) }
    }, Effect.catchTag("StoreUnavailable", () => Effect.fail(storeUnavailable()))))
    .handle("reservation", ({ params }) =>
      ledger.reservation(params.reservationId).pipe(
        Effect.mapError(storeUnavailable),
        Effect.flatMap((o) =>
          o.value === null
            ? Effect.fail(new NotFound({ error: "RESERVATION_NOT_FOUND", message: `reservation ${params.reservationId} does not exist` }))
            : Effect.succeed(reservationView(o.value))
        )
      ))
    .handle("tableStacks", Effect.fnUntraced(function*({ params }) {
      const prefix = stackKeyPrefix(params.tableId)
      const keys: Array<string> = []
      let cursor: string | null = null
      do {
        const page: Page<string> = yield* ledger.accounts(cursor, 200, prefix)
        keys.push(...page.items)
        cursor = page.nextCursor
      } while (cursor !== null && keys.length < MAX_STACKS)
      const stacks = yield* Effect.forEach(keys, (key) => ledger.stack(params.tableId, key.slice(prefix.length)), { concurrency: 8 })
      const items = stacks.flatMap((o) => o.value === null ? [] : [{ accountId: o.value.accountId, balance: o.value.balance, version: o.version }])
      return { tableId: params.tableId, total: items.reduce((sum, s) => sum + s.balance, 0), items }
    }, Effect.catchTag("StoreUnavailable", () => Effect.fail(storeUnavailable()))))
    .handle("pot", Effect.fnUntraced(function*({ params, query }) {
      const observed = yield* ledger.pot(params.tableId, params.handId).pipe(Effect.mapError(storeUnavailable))
      const pot = observed.value
      if (pot === null) {
        return yield* new NotFound({ error: "POT_NOT_FOUND", message: `pot ${params.tableId}/${params.handId} does not exist` })
      }
      const folded = query.folded === undefined ? [] : query.folded.split(",").map(Number)
      return {
        tableId: pot.tableId,
        handId: pot.handId,
        status: pot.status,
        balance: pot.balance,
        contributions: pot.contributions.map((c) => ({ seatId: c.seatId, accountId: c.accountId, amount: c.amount })),
        pots: calculatePots(pot.contributions, folded).map((p) => ({ amount: p.amount, eligibleSeats: [...p.eligibleSeats] })),
        version: observed.version,
        createdAt: iso(pot.createdAt),
        ...(pot.closedAt === undefined ? {} : { closedAt: iso(pot.closedAt) })
      }
    }))
    .handle("transfers", Effect.fnUntraced(function*({ query }) {
      const scope = "events"
      const start = yield* decodeCursor(scope, query.cursor)
      const page = yield* transferEvents(ledger, start, query.limit ?? DEFAULT_LIMIT).pipe(Effect.mapError(storeUnavailable))
      return {
        items: page.items.map((e) => ({
          eventId: e.id,
          timestamp: iso(e.transfers[0]!.timestamp),
          transfers: e.transfers.map(transferView)
        })),
        nextCursor: nextCursorOf(scope, page.nextCursor)
      }
    }))
    .handle("verify", Effect.fnUntraced(function*({ payload }) {
      const accountId = payload?.accountId
      if (accountId !== undefined) {
        yield* walletMustExist(ledger, accountId)
        return reportView(yield* verifier.verifyAccount(walletKey(accountId)).pipe(Effect.mapError(storeUnavailable)))
      }
      const report = payload?.mode === "incremental" ? verifier.verifyIncremental() : verifier.verifyAll()
      return reportView(yield* report.pipe(Effect.mapError(storeUnavailable)))
    }))
    .handle("supply", Effect.fnUntraced(function*() {
      const supply = yield* ledger.supply().pipe(Effect.mapError(storeUnavailable))
      return supplyReport(supply, yield* verifier.lastReport())
    }))
}))

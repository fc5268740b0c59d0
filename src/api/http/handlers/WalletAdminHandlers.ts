import { Effect } from "effect"
import { HttpApiBuilder, HttpApiSchema } from "effect/http-api"
import { CommandExecutor } from "../../../degradation/CommandExecutor.ts"
import { Ledger } from "../../../ledger/Ledger.ts"
import { NotFound } from "../ApiErrors.ts"
import { BalanceApi } from "../BalanceApi.ts"
import { fromExecuteError } from "../refusalStatus.ts"

const replayHeaders = (replayed: boolean): { readonly "idempotent-replayed"?: "true" } =>
  replayed ? { "idempotent-replayed": "true" } : {}

/** Creating wallets, minting and burning chips (admin-only routes). */
export const WalletAdminHandlers = HttpApiBuilder.group(BalanceApi, "walletAdmin", Effect.fnUntraced(function*(handlers) {
  const ledger = yield* Ledger
  const executor = yield* CommandExecutor
  return handlers
    .handle("ensureAccount", ({ params, payload }) =>
      ledger.execute({ op: "EnsureAccount", accountId: params.accountId, initialBalance: payload?.initialBalance ?? 0 }).pipe(
        Effect.mapError(fromExecuteError),
        // Creating an account never refuses with "not found"; anything else is a bug, not an answer.
        Effect.catch((e) => (e instanceof NotFound ? Effect.die(e) : Effect.fail(e))),
        Effect.map(({ result }) =>
          result.created
            ? { accountId: result.accountId, balance: result.balance, created: true as const }
            : { accountId: result.accountId, balance: result.balance, created: false as const }
        )
      ))
    .handle("deposit", ({ params, headers, payload }) =>
      executor.execute({
        op: "Deposit",
        accountId: params.accountId,
        amount: payload.amount,
        source: payload.source,
        idempotencyKey: headers["idempotency-key"]
      }).pipe(
        Effect.mapError(fromExecuteError),
        Effect.map((executed) =>
          executed._tag === "Queued"
            ? { queued: true as const, queueId: executed.queueId }
            : HttpApiSchema.withHeaders({ body: executed.result, headers: replayHeaders(executed.replayed) })
        )
      ))
    .handle("withdraw", ({ params, headers, payload }) =>
      ledger.execute({
        op: "Withdraw",
        accountId: params.accountId,
        amount: payload.amount,
        reason: payload.reason ?? "",
        idempotencyKey: headers["idempotency-key"]
      }).pipe(
        Effect.mapError(fromExecuteError),
        Effect.map(({ result, replayed }) => HttpApiSchema.withHeaders({ body: result, headers: replayHeaders(replayed) }))
      ))
}))

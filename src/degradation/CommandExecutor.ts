import { Context, Effect, Layer } from "effect"
import { type Command, isQueueableCredit } from "../domain/commands.ts"
import type { ResultByOp } from "../domain/responses.ts"
import { type ExecuteError, Ledger } from "../ledger/Ledger.ts"
import { CreditQueue } from "./CreditQueue.ts"

export type Execution<R> =
  | { readonly _tag: "Done"; readonly result: R; readonly replayed: boolean }
  /** The store was down; the command is durably queued and will be applied when it returns. */
  | { readonly _tag: "Queued"; readonly queueId: string }

/**
 * What the APIs call: the ledger when the store answers; for credits that
 * cannot bounce, the durable queue when it does not. Debits never queue: they
 * fail with StoreUnavailable (a queued debit could bounce later).
 */
export class CommandExecutor extends Context.Service<CommandExecutor, {
  readonly execute: <C extends Command>(command: C) => Effect.Effect<Execution<ResultByOp[C["op"]]>, ExecuteError>
}>()("balance/CommandExecutor") {
  static readonly layer = Layer.effect(CommandExecutor, Effect.gen(function*() {
    const ledger = yield* Ledger
    const queue = yield* CreditQueue
    return CommandExecutor.of({
      // Data-first (no pipe): on every command, and the curried forms of Effect's duals cost an arguments copy per call.
      execute: <C extends Command>(command: C) =>
        Effect.catchTag(
          Effect.map(ledger.execute(command), (done): Execution<ResultByOp[C["op"]]> => ({ _tag: "Done", result: done.result, replayed: done.replayed })),
          "StoreUnavailable",
          (error) =>
            isQueueableCredit(command)
              ? Effect.map(queue.enqueue(command), (q): Execution<ResultByOp[C["op"]]> => ({ _tag: "Queued", queueId: q.queueId }))
              : Effect.fail(error)
        )
    })
  }))

  /** Straight to the ledger, no queue (tests, tools). */
  static readonly layerWithoutQueue = Layer.effect(CommandExecutor, Effect.gen(function*() {
    const ledger = yield* Ledger
    return CommandExecutor.of({
      execute: (command) => Effect.map(ledger.execute(command), (done) => ({ _tag: "Done" as const, ...done }))
    })
  }))
}

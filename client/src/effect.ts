/**
 * @balance/client/effect: the same core as the Promise API, as an Effect
 * service. Refusals, unavailability and call errors are typed failures; the
 * GameBalance decisions are values (a refusal there is a decision, not a failure).
 *
 *   const program = Effect.gen(function*() {
 *     const balance = yield* BalanceGateway
 *     const d = yield* balance.buyIn({ tableId: "t1", accountId: "alice", amount: 500 })
 *   }).pipe(Effect.provide(BalanceGateway.layer({ client: { addresses: ["127.0.0.1:50051"] }, mode: "enforce", journalDir: ".balance-journal" })))
 */
import { Context, Effect, Layer } from "effect"
import { BalanceCallError, BalanceRefusal, BalanceUnavailable } from "./errors.ts"
import { type BuyInHold, type Decision, GameBalance, type GameBalanceOptions, type MigrationMode, type ReplayPass } from "./game/GameBalance.ts"
import type { LegacyView } from "./game/ShadowMirror.ts"
import type { BalanceMethod, CallOptions, RequestOf, ResponseOf } from "./transport/BalanceTransport.ts"

type Args<F> = F extends (...args: infer A) => unknown ? A : never

/** Known failures stay typed; anything else (a journal that cannot be written) is a defect: the game must not go on. */
const attempt = <A, E extends BalanceRefusal | BalanceUnavailable | BalanceCallError>(
  run: () => Promise<A>,
  typed: ReadonlyArray<abstract new(...args: never) => E>
): Effect.Effect<A, E> =>
  Effect.tryPromise({ try: run, catch: (e) => e }).pipe(
    Effect.catch((e) => (typed.some((t) => e instanceof t) ? Effect.fail(e as E) : Effect.die(e)))
  )

const CALL_FAILURES: ReadonlyArray<abstract new(...args: never) => BalanceUnavailable | BalanceCallError> = [BalanceUnavailable, BalanceCallError]
const CHECKED_FAILURES: ReadonlyArray<abstract new(...args: never) => BalanceRefusal | BalanceUnavailable | BalanceCallError> = [
  BalanceRefusal,
  BalanceUnavailable,
  BalanceCallError
]

export class BalanceGateway extends Context.Service<BalanceGateway, {
  /** The raw typed call: what the service answered, in-band refusals included. */
  readonly call: <M extends BalanceMethod>(method: M, request: RequestOf<M>, options?: CallOptions) => Effect.Effect<ResponseOf<M>, BalanceUnavailable | BalanceCallError>
  /** The call with an in-band refusal as a BalanceRefusal failure. */
  readonly checked: <M extends BalanceMethod>(method: M, request: RequestOf<M>, options?: CallOptions) => Effect.Effect<ResponseOf<M>, BalanceRefusal | BalanceUnavailable | BalanceCallError>
  readonly buyIn: (...args: Args<GameBalance["buyIn"]>) => Effect.Effect<Decision, BalanceCallError>
  readonly reserveBuyIn: (...args: Args<GameBalance["reserveBuyIn"]>) => Effect.Effect<BuyInHold, BalanceCallError>
  readonly commitBuyIn: (hold: BuyInHold, legacy?: LegacyView) => Effect.Effect<Decision, BalanceCallError>
  readonly releaseBuyIn: (hold: BuyInHold, reason?: string) => Effect.Effect<void>
  readonly contribute: (...args: Args<GameBalance["contribute"]>) => Effect.Effect<Decision, BalanceCallError>
  readonly settle: (...args: Args<GameBalance["settle"]>) => Effect.Effect<Decision, BalanceCallError>
  readonly cancel: (...args: Args<GameBalance["cancel"]>) => Effect.Effect<Decision, BalanceCallError>
  readonly cashOut: (...args: Args<GameBalance["cashOut"]>) => Effect.Effect<Decision, BalanceCallError>
  readonly mode: Effect.Effect<MigrationMode>
  readonly setMode: (mode: MigrationMode) => Effect.Effect<void>
  readonly replayPending: Effect.Effect<ReplayPass, BalanceCallError>
  readonly stats: Effect.Effect<ReturnType<GameBalance["stats"]>>
  /** The Promise-API object underneath (same instance), for code that mixes both. */
  readonly unsafeGameBalance: GameBalance
}>()("@balance/client/BalanceGateway") {
  /** Opens the journal and the channels; closes them (after a replay pass in progress) when the layer's scope ends. */
  static readonly layer = (options: GameBalanceOptions): Layer.Layer<BalanceGateway> =>
    Layer.effect(
      BalanceGateway,
      Effect.map(
        Effect.acquireRelease(Effect.sync(() => new GameBalance(options)), (g) => Effect.promise(() => g.close())),
        BalanceGateway.fromGameBalance
      )
    )

  /** The service over an existing GameBalance (not closed by it). */
  static readonly fromGameBalance = (g: GameBalance) => {
    const game = [BalanceCallError] as const
    return BalanceGateway.of({
      call: (method, request, options) => attempt(() => g.client.call(method, request, options), CALL_FAILURES),
      checked: (method, request, options) => attempt(() => g.client.checked(method, request, options), CHECKED_FAILURES),
      buyIn: (...a) => attempt(() => g.buyIn(...a), game),
      reserveBuyIn: (...a) => attempt(() => g.reserveBuyIn(...a), game),
      commitBuyIn: (hold, legacy) => attempt(() => g.commitBuyIn(hold, legacy), game),
      releaseBuyIn: (hold, reason) => Effect.promise(() => g.releaseBuyIn(hold, reason)),
      contribute: (...a) => attempt(() => g.contribute(...a), game),
      settle: (...a) => attempt(() => g.settle(...a), game),
      cancel: (...a) => attempt(() => g.cancel(...a), game),
      cashOut: (...a) => attempt(() => g.cashOut(...a), game),
      mode: Effect.sync(() => g.mode),
      setMode: (mode) => Effect.sync(() => g.setMode(mode)),
      replayPending: attempt(() => g.replayPending(), game),
      stats: Effect.sync(() => g.stats()),
      unsafeGameBalance: g
    })
  }
}

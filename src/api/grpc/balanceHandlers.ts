import { Effect } from "effect"
import type { Command } from "../../domain/commands.ts"
import { refuse, type Refusal } from "../../domain/errors.ts"
import type { ResultByOp } from "../../domain/responses.ts"
import { CommandExecutor } from "../../degradation/CommandExecutor.ts"
import { Ledger } from "../../ledger/Ledger.ts"
import type { Access } from "./callAuth.ts"
import * as Decode from "./decodeRequests.ts"
import * as Encode from "./encodeResponses.ts"
import type { CallFailure, FailureMode } from "./mapFailure.ts"

export type WireRequest = Readonly<Record<string, unknown>>

export interface UnaryMethod {
  readonly mode: FailureMode
  /** Who may call it (see callAuth.ts); may depend on the request. */
  readonly access: (request: WireRequest) => Access
  readonly handle: (request: WireRequest) => Effect.Effect<object, CallFailure>
}

const game = (): Access => "game"
const admin = (): Access => "admin"

/**
 * EnsureAccount creates chips when it carries an initial balance: then it is an admin's call.
 * Anything but an absent or zero balance counts (an unreadable one too; decoding refuses it later).
 */
const ensureAccountAccess = (request: WireRequest): Access => {
  const initial = request["initialBalance"]
  return initial === undefined || initial === null || initial === "" || initial === "0" || initial === 0 ? "game" : "admin"
}

/** The unary rpcs of BalanceService: decode, run through the ledger, encode. No gRPC types here. */
export const makeBalanceHandlers = Effect.gen(function*() {
  const ledger = yield* Ledger
  const executor = yield* CommandExecutor

  const command = <C extends Command>(
    decode: (r: WireRequest) => Effect.Effect<C, Refusal>,
    encode: (result: ResultByOp[C["op"]]) => object,
    mode: FailureMode = "inBand",
    access: UnaryMethod["access"] = game
  ): UnaryMethod => ({
    mode,
    access,
    // Data-first (no pipe): the curried forms of Effect's duals cost an arguments copy per call.
    handle: (request) =>
      Effect.map(
        Effect.flatMap(decode(request), (c) => executor.execute(c)),
        // A credit queued while the store is down is accepted: ok, flagged queued, applied later.
        (executed) => executed._tag === "Done" ? encode(executed.result) : { ok: true, queued: true, queueId: executed.queueId }
      )
  })

  const query = (handle: UnaryMethod["handle"], mode: FailureMode = "inBand"): UnaryMethod => ({ mode, access: game, handle })

  const methods = {
    // The hot reads: flatMap/map, no generator per call.
    GetBalance: query(
      (r) =>
        Effect.flatMap(
          Decode.decodeAccountQuery(r),
          ({ accountId }) => Effect.map(ledger.wallet(accountId), (wallet) => Encode.balanceResponse(accountId, wallet))
        ),
      "status"
    ),
    EnsureAccount: command(Decode.decodeEnsureAccount, Encode.ensureAccountResponse, "status", ensureAccountAccess),
    ReserveForBuyIn: command(Decode.decodeReserve, Encode.reserveResponse),
    CommitReservation: command(Decode.decodeCommit, Encode.commitResponse),
    ReleaseReservation: command(Decode.decodeRelease, Encode.releaseResponse),
    ProcessCashOut: command(Decode.decodeCashOut, Encode.cashOutResponse),
    RecordContribution: command(Decode.decodeContribute, Encode.contributeResponse),
    SettlePot: command(Decode.decodeSettle, Encode.settleResponse),
    CancelPot: command(Decode.decodeCancel, Encode.cancelResponse),
    Deposit: command(Decode.decodeDeposit, Encode.walletMovementResponse, "inBand", admin),
    Withdraw: command(Decode.decodeWithdraw, Encode.walletMovementResponse, "inBand", admin),
    GetReservation: query(Effect.fnUntraced(function*(r) {
      const { reservationId } = yield* Decode.decodeReservationQuery(r)
      const observed = yield* ledger.reservation(reservationId)
      if (!observed.value) {
        return yield* Effect.fail(refuse("RESERVATION_NOT_FOUND", `reservation ${reservationId} does not exist`, "reservation_id"))
      }
      return Encode.reservationResponse(observed.value, observed.stale)
    })),
    GetTableStack: query((r) =>
      Effect.flatMap(
        Decode.decodeStackQuery(r),
        ({ tableId, accountId }) => Effect.map(ledger.stack(tableId, accountId), (stack) => Encode.stackResponse(tableId, accountId, stack))
      )
    ),
    GetPot: query(Effect.fnUntraced(function*(r) {
      const { tableId, handId, foldedSeats } = yield* Decode.decodePotQuery(r)
      const observed = yield* ledger.pot(tableId, handId)
      if (!observed.value) return yield* Effect.fail(refuse("POT_NOT_FOUND", `pot ${tableId}/${handId} does not exist`))
      return Encode.potResponse(observed.value, observed.version, observed.stale, foldedSeats)
    })),
    ListLedgerEntries: query((r) =>
      Effect.flatMap(
        Decode.decodeEntriesQuery(r),
        ({ account, afterSeq, limit }) => Effect.map(ledger.entries(account, afterSeq, limit), (entries) => Encode.entriesResponse(entries, limit))
      )
    )
  } satisfies Record<string, UnaryMethod>

  return methods
})

export type BalanceHandlers = Effect.Success<typeof makeBalanceHandlers>

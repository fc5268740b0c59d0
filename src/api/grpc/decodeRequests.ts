import { Effect, Result, Schema, SchemaIssue } from "effect"
import { stackKey, walletKey } from "../../domain/accounts.ts"
import { Chips, ChipsOrZero, parseInt64 } from "../../domain/amount.ts"
import type {
  Cancel,
  CashOut,
  Commit,
  Contribute,
  Deposit,
  EnsureAccount,
  PotWinner,
  Release,
  Reserve,
  Settle,
  Withdraw
} from "../../domain/commands.ts"
import { refuse, type Refusal, type RefusalCode } from "../../domain/errors.ts"
import { AccountId, DepositSource, HandId, IdempotencyKey, Reason, ReservationId, SeatId, TableId } from "../../domain/ids.ts"
import { MAX_RESERVATION_TIMEOUT_MS } from "../../domain/rules.ts"

/**
 * Turns wire requests (proto-loader objects: camelCase, int64 as strings,
 * absent fields as defaults) into domain commands. Every refusal names the
 * wire field (snake_case, as clients know it) and carries the in-band code.
 * Fields are checked as Results (plain values, no fiber step per field);
 * each decoder hands its Result to the call as one Effect.
 */

type Wire = Readonly<Record<string, unknown>>

const formatIssue = SchemaIssue.makeFormatterDefault()

type Decoder = (input: unknown) => Result.Result<unknown, Schema.SchemaError>

/** One decoder per schema, made on first use: Schema.decodeUnknownResult builds a new one each time it is called. */
const decoders = new WeakMap<object, Decoder>()

const checked = <S extends Schema.ConstraintDecoder<unknown>>(
  schema: S,
  code: RefusalCode,
  field: string,
  input: unknown
): Result.Result<S["Type"], Refusal> => {
  let decode = decoders.get(schema)
  if (decode === undefined) {
    decode = Schema.decodeUnknownResult(schema) as Decoder
    decoders.set(schema, decode)
  }
  const r = decode(input)
  return Result.isSuccess(r)
    ? Result.succeed(r.success as S["Type"])
    : Result.fail(refuse(code, `${field}: ${formatIssue(r.failure.issue)}`, field))
}

const text = (input: unknown): unknown => input ?? ""

type Checked<F> = { readonly [K in keyof F]: F[K] extends Result.Result<infer A, Refusal> ? A : never }

/**
 * The fields of a request, each checked already: their values, or the first refusal in field order
 * (the order the fields are written in). A plain loop: a generator per call (Result.gen) cost more
 * than the checks of a game call's fields together.
 */
const fields = <F extends Readonly<Record<string, Result.Result<unknown, Refusal>>>>(checks: F): Result.Result<Checked<F>, Refusal> => {
  const values: Record<string, unknown> = {}
  for (const name in checks) {
    const check = checks[name]!
    if (Result.isFailure(check)) return Result.fail(check.failure)
    values[name] = check.success
  }
  return Result.succeed(values as Checked<F>)
}

const accountId = (input: unknown, field = "account_id") => checked(AccountId, "INVALID_ACCOUNT_ID", field, text(input))
const tableId = (input: unknown) => checked(TableId, "INVALID_TABLE_ID", "table_id", text(input))
const handId = (input: unknown) => checked(HandId, "INVALID_HAND_ID", "hand_id", text(input))
const reservationId = (input: unknown) => checked(ReservationId, "INVALID_RESERVATION_ID", "reservation_id", text(input))
const seatId = (input: unknown, field = "seat_id") => checked(SeatId, "INVALID_SEAT_ID", field, input ?? 0)
const reason = (input: unknown, field = "reason") => checked(Reason, "INVALID_REASON", field, text(input))

const idempotencyKey = (input: unknown, field = "idempotency_key") =>
  text(input) === ""
    ? Result.fail(refuse("MISSING_IDEMPOTENCY_KEY", `${field} is required`, field))
    : checked(IdempotencyKey, "INVALID_IDEMPOTENCY_KEY", field, input)

/** An int64 read digit by digit (never rounded): a safe integer, of either sign. */
const safeInt64 = (input: unknown, field: string, code: RefusalCode): Result.Result<number, Refusal> => {
  const parsed = parseInt64(input ?? "0")
  return parsed._tag === "invalid" ? Result.fail(refuse(code, `${field} ${parsed.reason}`, field)) : Result.succeed(parsed.value)
}
/** An int64 held to the chip range: positive, or 0 allowed. */
const int64 = (input: unknown, field: string, code: RefusalCode, zeroAllowed: boolean) =>
  Result.flatMap(safeInt64(input, field, code), (value) => checked(zeroAllowed ? ChipsOrZero : Chips, code, field, value))
const amount = (input: unknown, field = "amount") => int64(input, field, "INVALID_AMOUNT", false)
/** A ledger sequence number (after_seq): from 0 up; its refusal speaks of a seq, not of chips. */
const sequenceNumber = (input: unknown, field: string) =>
  Result.flatMap(safeInt64(input, field, "INVALID_ARGUMENT"), (value) =>
    value < 0
      ? Result.fail(refuse("INVALID_ARGUMENT", `${field} must not be negative (a ledger seq, 0 for the start)`, field))
      : Result.succeed(value))

const CONTRIBUTION_TYPES = ["BLIND", "ANTE", "BET", "CALL", "RAISE", "ALL_IN"] as const
const contributionType = (input: unknown) => {
  const value = typeof input === "string" ? input.trim().toUpperCase() : ""
  return (CONTRIBUTION_TYPES as ReadonlyArray<string>).includes(value)
    ? Result.succeed(value)
    : Result.fail(refuse("INVALID_ARGUMENT", `contribution_type must be one of ${CONTRIBUTION_TYPES.join(", ")}`, "contribution_type"))
}

/** Longest hold a caller may ask for: the domain's cap, in the wire's unit. */
const MAX_TIMEOUT_SECONDS = MAX_RESERVATION_TIMEOUT_MS / 1000
const timeoutSeconds = (input: unknown) => {
  const s = typeof input === "number" ? input : 0
  return Number.isInteger(s) && s >= 0 && s <= MAX_TIMEOUT_SECONDS
    ? Result.succeed(s)
    : Result.fail(refuse("INVALID_TIMEOUT", `timeout_seconds must be between 0 and ${MAX_TIMEOUT_SECONDS}`, "timeout_seconds"))
}

export const decodeAccountQuery = (r: Wire) => Effect.fromResult(Result.map(accountId(r.accountId), (id) => ({ accountId: id })))

export const decodeEnsureAccount = (r: Wire): Effect.Effect<EnsureAccount, Refusal> =>
  Effect.fromResult(Result.map(
    fields({ accountId: accountId(r.accountId), initialBalance: int64(r.initialBalance, "initial_balance", "INVALID_AMOUNT", true) }),
    (f): EnsureAccount => ({ op: "EnsureAccount", ...f })
  ))

export const decodeReserve = (r: Wire): Effect.Effect<Reserve, Refusal> =>
  Effect.fromResult(Result.map(
    fields({
      accountId: accountId(r.accountId),
      tableId: tableId(r.tableId),
      amount: amount(r.amount),
      idempotencyKey: idempotencyKey(r.idempotencyKey),
      timeoutSeconds: timeoutSeconds(r.timeoutSeconds)
    }),
    (f): Reserve => ({
      op: "Reserve",
      accountId: f.accountId,
      tableId: f.tableId,
      amount: f.amount,
      idempotencyKey: f.idempotencyKey,
      timeoutMs: f.timeoutSeconds * 1000
    })
  ))

export const decodeCommit = (r: Wire): Effect.Effect<Commit, Refusal> =>
  Effect.fromResult(Result.map(reservationId(r.reservationId), (id): Commit => ({ op: "Commit", reservationId: id })))

export const decodeRelease = (r: Wire): Effect.Effect<Release, Refusal> =>
  Effect.fromResult(Result.map(
    fields({ reservationId: reservationId(r.reservationId), reason: reason(r.reason) }),
    (f): Release => ({ op: "Release", ...f })
  ))

export const decodeCashOut = (r: Wire): Effect.Effect<CashOut, Refusal> =>
  Effect.fromResult(Result.map(
    fields({
      accountId: accountId(r.accountId),
      tableId: tableId(r.tableId),
      seatId: seatId(r.seatId),
      amount: amount(r.amount),
      idempotencyKey: idempotencyKey(r.idempotencyKey),
      handId: text(r.handId) === "" ? Result.succeed(undefined) : handId(r.handId)
    }),
    ({ handId: hand, ...f }): CashOut => hand === undefined ? { op: "CashOut", ...f } : { op: "CashOut", ...f, handId: hand }
  ))

export const decodeContribute = (r: Wire): Effect.Effect<Contribute, Refusal> =>
  Effect.fromResult(Result.map(
    fields({
      tableId: tableId(r.tableId),
      handId: handId(r.handId),
      seatId: seatId(r.seatId),
      accountId: accountId(r.accountId),
      amount: amount(r.amount),
      contributionType: contributionType(r.contributionType),
      idempotencyKey: idempotencyKey(r.idempotencyKey)
    }),
    (f): Contribute => ({ op: "Contribute", ...f })
  ))

const winners = (input: unknown): Result.Result<ReadonlyArray<PotWinner>, Refusal> => {
  const list = Array.isArray(input) ? (input as ReadonlyArray<Wire>) : []
  if (list.length === 0) return Result.fail(refuse("INVALID_WINNERS", "winners: at least one winner is required", "winners"))
  const out: Array<PotWinner> = []
  for (let i = 0; i < list.length; i++) {
    const w = list[i]!
    const winner = fields({
      seatId: seatId(w.seatId, `winners[${i}].seat_id`),
      accountId: accountId(w.accountId, `winners[${i}].account_id`),
      // A requested share may be 0: the pot is then split by the other requests (or evenly if all are 0).
      amount: int64(w.amount, `winners[${i}].amount`, "INVALID_AMOUNT", true)
    })
    if (Result.isFailure(winner)) return Result.fail(winner.failure)
    out.push(winner.success)
  }
  if (new Set(out.map((w) => w.seatId)).size !== out.length) {
    return Result.fail(refuse("INVALID_WINNERS", "winners: a seat may appear only once", "winners"))
  }
  return Result.succeed(out)
}

export const decodeSettle = (r: Wire): Effect.Effect<Settle, Refusal> =>
  Effect.fromResult(Result.map(
    fields({ tableId: tableId(r.tableId), handId: handId(r.handId), winners: winners(r.winners), idempotencyKey: idempotencyKey(r.idempotencyKey) }),
    (f): Settle => ({ op: "Settle", ...f })
  ))

export const decodeCancel = (r: Wire): Effect.Effect<Cancel, Refusal> =>
  Effect.fromResult(Result.gen(function*() {
    const table = yield* tableId(r.tableId)
    const hand = yield* handId(r.handId)
    if (typeof r.reason !== "string" || r.reason.trim() === "") {
      return yield* Result.fail(refuse("INVALID_REASON", "reason is required", "reason"))
    }
    const why = yield* reason(r.reason)
    const command: Cancel = { op: "Cancel", tableId: table, handId: hand, reason: why }
    // Optional on this rpc (older clients never send it): absent or empty means "not idempotent by key".
    if (text(r.idempotencyKey) === "") return command
    return { ...command, idempotencyKey: yield* idempotencyKey(r.idempotencyKey) }
  }))

export const decodeDeposit = (r: Wire): Effect.Effect<Deposit, Refusal> =>
  Effect.fromResult(Result.gen(function*() {
    const id = yield* accountId(r.accountId)
    const chips = yield* amount(r.amount)
    const key = yield* idempotencyKey(r.idempotencyKey)
    return { op: "Deposit", accountId: id, amount: chips, idempotencyKey: key, source: yield* checked(DepositSource, "INVALID_REASON", "source", text(r.source)) }
  }))

export const decodeWithdraw = (r: Wire): Effect.Effect<Withdraw, Refusal> =>
  Effect.fromResult(Result.gen(function*() {
    const id = yield* accountId(r.accountId)
    const chips = yield* amount(r.amount)
    const key = yield* idempotencyKey(r.idempotencyKey)
    return { op: "Withdraw", accountId: id, amount: chips, idempotencyKey: key, reason: yield* reason(r.reason) }
  }))

export const decodeReservationQuery = (r: Wire) => Effect.fromResult(Result.map(reservationId(r.reservationId), (id) => ({ reservationId: id })))

export const decodeStackQuery = (r: Wire) => Effect.fromResult(fields({ tableId: tableId(r.tableId), accountId: accountId(r.accountId) }))

export const decodePotQuery = (r: Wire) =>
  Effect.fromResult(Result.gen(function*() {
    const table = yield* tableId(r.tableId)
    const hand = yield* handId(r.handId)
    const list = Array.isArray(r.foldedSeats) ? (r.foldedSeats as ReadonlyArray<unknown>) : []
    const folded: Array<number> = []
    for (const [i, s] of list.entries()) folded.push(yield* seatId(s, `folded_seats[${i}]`))
    return { tableId: table, handId: hand, foldedSeats: folded }
  }))

export const MAX_ENTRIES_PAGE = 1000
export const DEFAULT_ENTRIES_PAGE = 100

export const decodeEntriesQuery = (r: Wire) =>
  Effect.fromResult(Result.gen(function*() {
    const id = yield* accountId(r.accountId)
    const account = text(r.tableId) === "" ? walletKey(id) : stackKey(yield* tableId(r.tableId), id)
    const afterSeq = yield* sequenceNumber(r.afterSeq, "after_seq")
    const requested = typeof r.limit === "number" ? r.limit : 0
    if (!Number.isInteger(requested) || requested < 0 || requested > MAX_ENTRIES_PAGE) {
      return yield* Result.fail(refuse("INVALID_ARGUMENT", `limit must be between 0 and ${MAX_ENTRIES_PAGE}`, "limit"))
    }
    return { account, afterSeq, limit: requested === 0 ? DEFAULT_ENTRIES_PAGE : requested }
  }))

export const decodeWatch = (r: Wire) =>
  Effect.fromResult(Result.gen(function*() {
    const id = yield* accountId(r.accountId)
    // proto3 `optional`: undefined when the client did not set it, which means "from now on".
    const afterSeq = r.afterSeq === undefined || r.afterSeq === null
      ? undefined
      : yield* sequenceNumber(r.afterSeq, "after_seq")
    return { accountId: id, afterSeq }
  }))

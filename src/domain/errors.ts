import { Schema } from "effect"

/** The gRPC status a refusal gets where a method has no in-band `error` field (names of grpc-js `status`). */
export type RefusalGrpcStatus = "INVALID_ARGUMENT" | "NOT_FOUND" | "ALREADY_EXISTS" | "FAILED_PRECONDITION" | "OUT_OF_RANGE"

/** The HTTP status a refusal is answered with. */
export type RefusalHttpStatus = 400 | 404 | 409 | 422

/** Everything the service says about one refusal code, in one row. */
export interface RefusalClass {
  readonly http: RefusalHttpStatus
  readonly grpc: RefusalGrpcStatus
  /**
   * Fresh state could change this answer (a balance, a status, a pot's seats): when the planner
   * refused from cached state, the ledger reads the store again before answering. False for codes
   * that depend on the request alone; reading again could not change them.
   */
  readonly transient: boolean
}

const input = { http: 400, grpc: "INVALID_ARGUMENT", transient: false } as const
const notFound = { http: 404, grpc: "NOT_FOUND", transient: true } as const
const precondition = { http: 422, grpc: "FAILED_PRECONDITION", transient: true } as const

/**
 * Every way a command can be refused, as the UPPER_SNAKE code that clients see
 * (gRPC in-band `error`, HTTP `error`), with how each API answers it and
 * whether fresh state could change it. The one table: HTTP statuses, gRPC
 * statuses and the ledger's re-read decision are read from here, so a code
 * added without its row does not exist, and a row needs all three.
 * A refusal never changes anything.
 */
export const REFUSALS = {
  // input: the request alone decides
  INVALID_ACCOUNT_ID: input,
  INVALID_TABLE_ID: input,
  INVALID_HAND_ID: input,
  INVALID_RESERVATION_ID: input,
  INVALID_AMOUNT: input,
  // A seat taken by another account in this hand (or this account at another seat): the pot decides.
  INVALID_SEAT_ID: { ...input, transient: true },
  // A winner who put nothing into this pot: the pot decides.
  INVALID_WINNERS: { ...input, transient: true },
  INVALID_REASON: input,
  INVALID_TIMEOUT: input,
  INVALID_ARGUMENT: input,
  MISSING_IDEMPOTENCY_KEY: input,
  INVALID_IDEMPOTENCY_KEY: input,
  // business: the state decides
  ACCOUNT_NOT_FOUND: notFound,
  INSUFFICIENT_BALANCE: precondition,
  INSUFFICIENT_STACK: precondition,
  RESERVATION_NOT_FOUND: notFound,
  RESERVATION_NOT_HELD: precondition,
  RESERVATION_EXPIRED: precondition,
  ALREADY_COMMITTED: precondition,
  POT_NOT_FOUND: notFound,
  POT_NOT_ACTIVE: precondition,
  IDEMPOTENCY_KEY_REUSED: { http: 409, grpc: "ALREADY_EXISTS", transient: true },
  AMOUNT_OVERFLOW: { http: 422, grpc: "OUT_OF_RANGE", transient: true }
} as const satisfies Readonly<Record<string, RefusalClass>>

type Code = keyof typeof REFUSALS

export const RefusalCode = Schema.Literals(Object.keys(REFUSALS) as [Code, ...Array<Code>])
export type RefusalCode = typeof RefusalCode.Type

/** A command the ledger refuses: nothing moved. `field` names the offending input for validation refusals. */
export class Refusal extends Schema.TaggedError<Refusal>()("Refusal", {
  code: RefusalCode,
  message: Schema.String,
  field: Schema.optional(Schema.String)
}) {}

export const refuse = (code: RefusalCode, message: string, field?: string): Refusal =>
  new Refusal(field === undefined ? { code, message } : { code, message, field })

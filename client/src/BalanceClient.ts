import { randomUUID } from "node:crypto"
import { BalanceRefusal } from "./errors.ts"
import {
  type BalanceMethod,
  BalanceTransport,
  type CallOptions,
  type RequestOf,
  type ResponseOf,
  type TransportOptions
} from "./transport/BalanceTransport.ts"

export type BalanceClientOptions = TransportOptions

/** Methods whose request has an idempotency key: the client fills it in when the caller did not. */
const KEYED = new Set<BalanceMethod>(["ReserveForBuyIn", "ProcessCashOut", "RecordContribution", "SettlePot", "CancelPot", "Deposit", "Withdraw"])

/** Methods that need the operator's credential. EnsureAccount only when it grants chips. */
const isAdminCall = (method: BalanceMethod, request: object) =>
  method === "Deposit" || method === "Withdraw" ||
  (method === "EnsureAccount" && String((request as { initial_balance?: unknown }).initial_balance ?? "0") !== "0")

/** A response with the in-band refusal fields. */
interface InBand {
  readonly ok: boolean
  readonly error: string
  readonly error_message: string
}
const hasInBand = (r: object): r is InBand => "ok" in r && "error" in r

/**
 * The typed client of balance.BalanceService (types generated from
 * proto/balance.proto). `call` answers what the service answered, refusals
 * included; `checked` turns an in-band refusal into a BalanceRefusal. Both
 * throw BalanceUnavailable (unreachable, outcome unknown: retry with the same
 * key is safe) and BalanceCallError (a status retrying cannot fix).
 */
export class BalanceClient {
  readonly transport: BalanceTransport

  constructor(options: BalanceClientOptions) {
    this.transport = new BalanceTransport(options)
  }

  /** Fills in the idempotency key once, before the first attempt, so every retry carries the same one. */
  withKey<M extends BalanceMethod>(method: M, request: RequestOf<M>): RequestOf<M> {
    if (!KEYED.has(method)) return request
    const key = (request as { idempotency_key?: string }).idempotency_key
    return key === undefined || key === "" ? { ...request, idempotency_key: randomUUID() } : request
  }

  call<M extends BalanceMethod>(method: M, request: RequestOf<M>, options: CallOptions = {}): Promise<ResponseOf<M>> {
    const keyed = this.withKey(method, request)
    return this.transport.unary(method, keyed, { admin: isAdminCall(method, keyed), ...options })
  }

  /** Like `call`, but an in-band refusal (`ok=false`) is thrown as BalanceRefusal. */
  async checked<M extends BalanceMethod>(method: M, request: RequestOf<M>, options: CallOptions = {}): Promise<ResponseOf<M>> {
    const response = await this.call(method, request, options)
    if (hasInBand(response) && !response.ok) throw new BalanceRefusal(method, response.error, response.error_message)
    return response
  }

  close(): void {
    this.transport.close()
  }
}

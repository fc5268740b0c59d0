import * as grpc from "@grpc/grpc-js"
import { BalanceCallError, BalanceUnavailable } from "../errors.ts"
import type { BalanceServiceMethods } from "../generated/balanceService.ts"
import { type ClientTelemetry, noTelemetry } from "../telemetry.ts"
import { jitteredBackoffMs, sleep } from "./backoff.ts"
import { CircuitBreaker, type CircuitBreakerSettings } from "./CircuitBreaker.ts"
import { contract } from "./contract.ts"
import { type AuthSettings, callMetadata, channelCredentials, type TlsSettings } from "./credentials.ts"
import { Endpoints, type HealthCheckSettings } from "./Endpoints.ts"
import { RetryBudget, type RetryBudgetSettings } from "./RetryBudget.ts"
import { requestProblem, requestTypeOf } from "./requestCheck.ts"

export type BalanceMethod = Exclude<keyof BalanceServiceMethods, "WatchAccount">
export type RequestOf<M extends BalanceMethod> = BalanceServiceMethods[M]["request"]
export type ResponseOf<M extends BalanceMethod> = BalanceServiceMethods[M]["response"]

export interface RetrySettings {
  /** Attempts per call, the first included. */
  readonly maxAttempts: number
  /** Back-off before retry n: uniform in [0, min(maxDelayMs, baseDelayMs * 2^(n-1))]. */
  readonly baseDelayMs: number
  readonly maxDelayMs: number
  readonly budget: RetryBudgetSettings
}

export interface TransportOptions {
  /** `host:port` of each service instance (round robin). */
  readonly addresses: ReadonlyArray<string>
  /** gRPC deadline of one attempt (sent to the service as grpc-timeout). */
  readonly attemptTimeoutMs?: number
  /** Time budget of a call, retries and back-off included. */
  readonly callTimeoutMs?: number
  readonly retry?: Partial<Omit<RetrySettings, "budget">> & { readonly budget?: Partial<RetryBudgetSettings> }
  readonly breaker?: Partial<CircuitBreakerSettings>
  /** Health checks of each instance; `false` turns them off. */
  readonly healthCheck?: Partial<HealthCheckSettings> | false
  readonly tls?: TlsSettings
  readonly auth?: AuthSettings
  readonly channelOptions?: grpc.ClientOptions
  readonly telemetry?: ClientTelemetry
}

export interface CallOptions {
  /** The call needs the operator's credential (AuthSettings.adminMetadata). */
  readonly admin?: boolean
  /** Overrides the per-call time budget. */
  readonly callTimeoutMs?: number
}

/** The statuses after which the same request may succeed: the service was unreachable, too slow, or lost a race (nothing written). */
export const RETRYABLE = new Set<number>([grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED, grpc.status.ABORTED])

export const DEFAULT_RETRY: RetrySettings = {
  maxAttempts: 4,
  baseDelayMs: 50,
  maxDelayMs: 1000,
  budget: { ratio: 0.2, minRetriesPerSecond: 10, windowMs: 10_000 }
}

/**
 * The call core: one unary call = attempts on the instances in turn, each
 * with a real gRPC deadline, retried on RETRYABLE statuses with jittered
 * back-off while the retry budget, the attempt limit and the call's time
 * budget allow, behind a circuit breaker. The request is sent unchanged on
 * every attempt, so a mutating call keeps its idempotency key and the service
 * applies it at most once. Does not look at `ok`/`error`: BalanceClient does.
 */
export class BalanceTransport {
  readonly breaker: CircuitBreaker
  private readonly endpoints: Endpoints
  private readonly budget: RetryBudget
  private readonly retry: RetrySettings
  private readonly attemptTimeoutMs: number
  private readonly callTimeoutMs: number
  private readonly auth: AuthSettings
  readonly telemetry: ClientTelemetry

  constructor(options: TransportOptions) {
    this.telemetry = options.telemetry ?? noTelemetry
    this.auth = options.auth ?? {}
    this.retry = {
      ...DEFAULT_RETRY,
      ...options.retry,
      budget: { ...DEFAULT_RETRY.budget, ...options.retry?.budget }
    }
    this.attemptTimeoutMs = options.attemptTimeoutMs ?? 2_000
    this.callTimeoutMs = options.callTimeoutMs ?? 6_000
    this.budget = new RetryBudget(this.retry.budget)
    this.breaker = new CircuitBreaker(
      { failureThreshold: 5, openMs: 2_000, ...options.breaker },
      (state) => this.telemetry.onEvent({ type: "breaker", state })
    )
    const health = options.healthCheck === false ? false : { intervalMs: 2_000, timeoutMs: 1_000, ...options.healthCheck }
    this.endpoints = new Endpoints(
      options.addresses,
      channelCredentials(options.tls),
      // grpc-js reconnects after up to 120 s by default: a game must see a returned service within seconds.
      { "grpc.keepalive_time_ms": 30_000, "grpc.initial_reconnect_backoff_ms": 200, "grpc.max_reconnect_backoff_ms": 2_000, ...options.channelOptions },
      health,
      () => callMetadata(this.auth, "Health/Check", false, {}),
      this.telemetry.onEvent
    )
  }

  endpointStatus() {
    return this.endpoints.status()
  }

  /** Resolves when a channel to at least one instance is connected (e.g. at game start), rejects after `timeoutMs`. */
  waitForReady(timeoutMs: number): Promise<void> {
    return this.endpoints.waitForReady(timeoutMs)
  }

  checkHealth(): Promise<void> {
    return this.endpoints.checkAll()
  }

  async unary<M extends BalanceMethod>(method: M, request: RequestOf<M>, options: CallOptions = {}): Promise<ResponseOf<M>> {
    const definition = contract().balance[method]!
    const problem = requestProblem(contract().message, requestTypeOf(definition), request)
    if (problem !== undefined) {
      // Nothing is sent: the service would have received another number than the one given.
      this.telemetry.onEvent({ type: "call", method, outcome: "error", attempts: 0, durationMs: 0, code: "INVALID_ARGUMENT" })
      throw new BalanceCallError(method, grpc.status.INVALID_ARGUMENT, problem)
    }
    const started = Date.now()
    const deadlineAt = started + (options.callTimeoutMs ?? this.callTimeoutMs)
    const span = this.telemetry.startSpan(`balance.BalanceService/${method}`, {
      "rpc.system": "grpc",
      "rpc.service": "balance.BalanceService",
      "rpc.method": method
    })
    this.budget.recordCall()
    let attempts = 0
    let last: { code: number; detail: string } | undefined
    let previous: ReturnType<Endpoints["pick"]> | undefined
    const finish = (outcome: "ok" | "unavailable" | "error", code?: string) =>
      this.telemetry.onEvent({
        type: "call",
        method,
        outcome,
        attempts,
        durationMs: Date.now() - started,
        ...(code === undefined ? {} : { code })
      })
    for (;;) {
      if (!this.breaker.tryAcquire()) {
        const e = new BalanceUnavailable(method, "circuit-open", attempts, last?.code, last?.detail ?? "the circuit breaker is open")
        finish("unavailable", "CIRCUIT_OPEN")
        span.end(e)
        throw e
      }
      const endpoint = this.endpoints.pick(previous)
      previous = endpoint
      attempts++
      const attemptDeadline = Math.min(Date.now() + this.attemptTimeoutMs, deadlineAt)
      const metadata = callMetadata(this.auth, method, options.admin === true, span.propagationHeaders())
      const result = await new Promise<{ ok: true; response: ResponseOf<M> } | { ok: false; error: grpc.ServiceError }>((resolve) => {
        endpoint.client.makeUnaryRequest(
          definition.path,
          definition.requestSerialize,
          definition.responseDeserialize,
          request,
          metadata,
          { deadline: attemptDeadline },
          (error, response) => resolve(error ? { ok: false, error } : { ok: true, response: response as ResponseOf<M> })
        )
      })
      if (result.ok) {
        this.breaker.onSuccess()
        this.endpoints.markHealthy(endpoint, true)
        span.setAttribute("balance.attempts", attempts)
        finish("ok")
        span.end()
        return result.response
      }
      const { code, details } = result.error
      last = { code, detail: details }
      if (!RETRYABLE.has(code)) {
        // The service answered: it is reachable, whatever it said.
        this.breaker.onSuccess()
        const e = new BalanceCallError(method, code, details)
        finish("error", grpc.status[code])
        span.end(e)
        throw e
      }
      // ABORTED is the service answering (a lost race, nothing written): not a sign the instance is down.
      if (code === grpc.status.ABORTED) this.breaker.onSuccess()
      else {
        this.breaker.onFailure()
        this.endpoints.markHealthy(endpoint, false)
      }
      const delay = jitteredBackoffMs(attempts, this.retry.baseDelayMs, this.retry.maxDelayMs)
      const outOfTime = Date.now() + delay >= deadlineAt
      if (attempts >= this.retry.maxAttempts || outOfTime) {
        const e = new BalanceUnavailable(method, "transport", attempts, code, `${grpc.status[code]}: ${details}`)
        finish("unavailable", grpc.status[code])
        span.end(e)
        throw e
      }
      if (!this.budget.tryRetry()) {
        this.telemetry.onEvent({ type: "retry-budget-exhausted", method })
        const e = new BalanceUnavailable(method, "retry-budget", attempts, code, `${grpc.status[code]}: ${details}`)
        finish("unavailable", "RETRY_BUDGET")
        span.end(e)
        throw e
      }
      this.telemetry.onEvent({ type: "retry", method, attempt: attempts + 1, grpcCode: code, endpoint: endpoint.address })
      span.addEvent("retry", { attempt: attempts + 1, "rpc.grpc.status_code": code, delay_ms: delay })
      await sleep(delay)
    }
  }

  close(): void {
    this.endpoints.close()
  }
}

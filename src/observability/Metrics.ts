import { Context, Effect, Layer } from "effect"
import * as Prom from "prom-client"

const latencyBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]

/**
 * The service's Prometheus registry and its request-path instruments.
 * One registry per layer build, so tests never share counters. Business
 * (chip economy) metrics are collected on scrape by EconomyMetrics.
 */
export class Metrics extends Context.Service<Metrics, {
  readonly registry: Prom.Registry
  readonly grpcRequests: Prom.Counter<"method" | "code">
  readonly grpcDuration: Prom.Histogram<"method">
  readonly httpRequests: Prom.Counter<"method" | "route" | "status">
  readonly httpDuration: Prom.Histogram<"method" | "route" | "status">
  readonly storeDuration: Prom.Histogram<"operation">
  readonly storeErrors: Prom.Counter<"operation">
  readonly commands: Prom.Counter<"op" | "outcome">
  readonly conflictRetries: Prom.Counter<"op">
  readonly idempotentReplays: Prom.Counter<"op">
  readonly staleReads: Prom.Counter<"object">
  readonly expiryLateness: Prom.Histogram<never>
  readonly verificationRuns: Prom.Counter<"mode" | "result">
  readonly verificationFindings: Prom.Counter<"kind">
  readonly lastVerificationSuccess: Prom.Gauge<never>
}>()("balance/Metrics") {
  static readonly make = () => {
    const registry = new Prom.Registry()
    const registers = [registry]
    return Metrics.of({
      registry,
      grpcRequests: new Prom.Counter({
        name: "balance_grpc_requests_total",
        help: "gRPC calls by method and outcome code (OK, in-band refusal code, or gRPC status name)",
        labelNames: ["method", "code"],
        registers
      }),
      grpcDuration: new Prom.Histogram({
        name: "balance_grpc_request_duration_seconds",
        help: "Server-side gRPC handler latency",
        labelNames: ["method"],
        buckets: latencyBuckets,
        registers
      }),
      httpRequests: new Prom.Counter({
        name: "balance_http_requests_total",
        help: "HTTP requests by method, route and status",
        labelNames: ["method", "route", "status"],
        registers
      }),
      httpDuration: new Prom.Histogram({
        name: "balance_http_request_duration_seconds",
        help: "HTTP handler latency by route and status",
        labelNames: ["method", "route", "status"],
        buckets: latencyBuckets,
        registers
      }),
      storeDuration: new Prom.Histogram({
        name: "balance_store_call_duration_seconds",
        help: "Latency of store calls (one Redis round trip each)",
        labelNames: ["operation"],
        buckets: latencyBuckets,
        registers
      }),
      storeErrors: new Prom.Counter({
        name: "balance_store_errors_total",
        help: "Store calls that failed (connection, timeout) after their retries",
        labelNames: ["operation"],
        registers
      }),
      commands: new Prom.Counter({
        name: "balance_ledger_commands_total",
        help: "Ledger commands by operation and outcome (ok, replayed, a refusal code, unavailable, contention); a credit then queued counts as unavailable here and in balance_credit_queue_total",
        labelNames: ["op", "outcome"],
        registers
      }),
      conflictRetries: new Prom.Counter({
        name: "balance_ledger_conflict_retries_total",
        help: "Plans re-made because another writer changed an object first",
        labelNames: ["op"],
        registers
      }),
      idempotentReplays: new Prom.Counter({
        name: "balance_idempotent_replays_total",
        help: "Calls answered with the stored response of an earlier call with the same key",
        labelNames: ["op"],
        registers
      }),
      staleReads: new Prom.Counter({
        name: "balance_stale_reads_total",
        help: "Reads answered from the in-process cache because the store did not answer",
        labelNames: ["object"],
        registers
      }),
      expiryLateness: new Prom.Histogram({
        name: "balance_reservation_expiry_lateness_seconds",
        help: "How long after its deadline each reservation was expired",
        buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
        registers
      }),
      verificationRuns: new Prom.Counter({
        name: "balance_ledger_verification_runs_total",
        help: "Ledger verification passes by mode and result",
        labelNames: ["mode", "result"],
        registers
      }),
      verificationFindings: new Prom.Counter({
        name: "balance_ledger_verification_failures_total",
        help: "Integrity findings by kind (broken link, bad checksum, seq gap, zero-sum violation, ...)",
        labelNames: ["kind"],
        registers
      }),
      lastVerificationSuccess: new Prom.Gauge({
        name: "balance_ledger_verification_last_success_timestamp_seconds",
        help: "Unix time of the last verification pass without findings",
        registers
      })
    })
  }

  static readonly layer = Layer.sync(Metrics, Metrics.make)

  /** Prometheus text of everything registered. */
  static readonly render = Effect.gen(function*() {
    const { registry } = yield* Metrics
    return { body: yield* Effect.promise(() => registry.metrics()), contentType: registry.contentType }
  })
}

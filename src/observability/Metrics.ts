import { Context, Effect, Layer } from "effect"
import * as Prom from "prom-client"
import { SERVICE_VERSION } from "../buildInfo.ts"
import { AppConfig } from "../config.ts"
import { OBJECT_KINDS } from "../domain/accounts.ts"
import { FINDING_KINDS, VERIFICATION_MODES } from "../domain/chainVerification.ts"
import { COMMAND_OPS } from "../domain/commands.ts"
import { RefusalCode } from "../domain/errors.ts"

const latencyBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]

/** The store calls the ledger times (balance_store_* `operation`). */
export const STORE_OPERATIONS = ["load", "apply"] as const
export type StoreOperation = (typeof STORE_OPERATIONS)[number]

/** How a ledger command ended (balance_ledger_commands_total `outcome`): ok, replayed, a refusal code, or a failure. */
export const COMMAND_OUTCOMES: ReadonlyArray<string> = ["ok", "replayed", "unavailable", "contention", ...RefusalCode.literals]

export const VERIFICATION_RESULTS = ["ok", "findings"] as const

/** Every combination of the given values of each label. */
export const labelCombinations = <L extends string>(
  values: { readonly [K in L]: ReadonlyArray<string> }
): ReadonlyArray<Record<L, string>> =>
  (Object.entries(values) as Array<[L, ReadonlyArray<string>]>).reduce<Array<Record<L, string>>>(
    (combinations, [name, labelValues]) =>
      combinations.flatMap((partial) => labelValues.map((value) => ({ ...partial, [name]: value }))),
    [{} as Record<L, string>]
  )

/**
 * Exports 0 for every known label combination, so that a panel or an alert over
 * a counter that has not counted anything yet shows 0 instead of "No data".
 */
export const initialiseCounter = <L extends string>(
  counter: Prom.Counter<L>,
  values: { readonly [K in L]: ReadonlyArray<string> }
): void => {
  for (const labels of labelCombinations(values)) counter.inc(labels as Prom.LabelValues<L>, 0)
}

/** Increments made with `tallyOf`, per counter: added to it when it is collected (on scrape). */
const pendingTallies = new WeakMap<Prom.Counter<string>, Array<{ readonly labels: Prom.LabelValues<string>; count: number }>>()

/**
 * A counter for the request path: `tallyOf` gives increments that cost one addition each; they are
 * added to the counter whenever it is collected (every scrape, `registry.metrics()`, `counter.get()`),
 * so what Prometheus reads is the same. prom-client's own `inc` validates and hashes the labels and
 * allocates on every call.
 */
export const tallyingCounter = <L extends string>(configuration: Prom.CounterConfiguration<L>): Prom.Counter<L> => {
  const counter: Prom.Counter<L> = new Prom.Counter<L>({
    ...configuration,
    collect() {
      for (const tally of pendingTallies.get(counter as Prom.Counter<string>) ?? []) {
        if (tally.count === 0) continue
        const count = tally.count
        tally.count = 0
        counter.inc(tally.labels as Prom.LabelValues<L>, count)
      }
    }
  })
  pendingTallies.set(counter as Prom.Counter<string>, [])
  return counter
}

/** One increment of `counter` (made by tallyingCounter) with `labels`; make it once per label set, call it per event. */
export const tallyOf = <L extends string>(counter: Prom.Counter<L>, labels: Prom.LabelValues<L>): () => void => {
  const tallies = pendingTallies.get(counter as Prom.Counter<string>)
  if (tallies === undefined) throw new Error("tallyOf: the counter was not made by tallyingCounter (its collect adds the tallies)")
  const tally = { labels: labels as Prom.LabelValues<string>, count: 0 }
  tallies.push(tally)
  return () => {
    tally.count += 1
  }
}

export interface BuildInfo {
  /** The source revision (BUILD_COMMIT), when the build or the deployment tells it. */
  readonly commit?: string | undefined
}

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
  readonly commands: Prom.Counter<"operation" | "outcome">
  readonly conflictRetries: Prom.Counter<"operation">
  readonly idempotentReplays: Prom.Counter<"operation">
  readonly staleReads: Prom.Counter<"object">
  readonly expiryLateness: Prom.Histogram<never>
  readonly verificationRuns: Prom.Counter<"mode" | "result">
  readonly verificationFindings: Prom.Counter<"kind">
  readonly lastVerificationSuccess: Prom.Gauge<never>
}>()("balance/Metrics") {
  static readonly make = (build: BuildInfo = {}) => {
    const registry = new Prom.Registry()
    const registers = [registry]
    // process_cpu_seconds_total, process_resident_memory_bytes, nodejs_eventloop_lag_*, heap, GC, ...:
    // the standard names, unprefixed, so that stock dashboards and alerts find them.
    Prom.collectDefaultMetrics({ register: registry })
    new Prom.Gauge({
      name: "balance_build_info",
      help: "Always 1; the labels say which build runs (version from package.json, commit from BUILD_COMMIT)",
      labelNames: build.commit === undefined ? ["version", "node"] : ["version", "commit", "node"],
      registers
    }).set({ version: SERVICE_VERSION, node: process.version, ...(build.commit === undefined ? {} : { commit: build.commit }) }, 1)
    const metrics = Metrics.of({
      registry,
      grpcRequests: tallyingCounter({
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
      commands: tallyingCounter({
        name: "balance_ledger_commands_total",
        help: "Ledger commands by operation and outcome (ok, replayed, a refusal code, unavailable, contention); a credit then queued counts as unavailable here and in balance_credit_queue_total",
        labelNames: ["operation", "outcome"],
        registers
      }),
      conflictRetries: new Prom.Counter({
        name: "balance_ledger_conflict_retries_total",
        help: "Plans re-made because another writer changed an object first",
        labelNames: ["operation"],
        registers
      }),
      idempotentReplays: new Prom.Counter({
        name: "balance_idempotent_replays_total",
        help: "Calls answered with the stored response of an earlier call with the same key",
        labelNames: ["operation"],
        registers
      }),
      staleReads: new Prom.Counter({
        name: "balance_stale_reads_total",
        help: "Reads answered from the in-process cache because the store did not answer, by kind of object",
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
    initialiseCounter(metrics.storeErrors, { operation: STORE_OPERATIONS })
    initialiseCounter(metrics.commands, { operation: COMMAND_OPS, outcome: COMMAND_OUTCOMES })
    initialiseCounter(metrics.conflictRetries, { operation: COMMAND_OPS })
    initialiseCounter(metrics.idempotentReplays, { operation: COMMAND_OPS })
    initialiseCounter(metrics.staleReads, { object: OBJECT_KINDS })
    initialiseCounter(metrics.verificationRuns, { mode: VERIFICATION_MODES, result: VERIFICATION_RESULTS })
    initialiseCounter(metrics.verificationFindings, { kind: FINDING_KINDS })
    return metrics
  }

  /** BUILD_COMMIT is a free-form label: a malformed environment cannot fail it, only leave it out. */
  static readonly layer = Layer.effect(
    Metrics,
    AppConfig.buildCommit.pipe(Effect.orElseSucceed(() => undefined), Effect.map((commit) => Metrics.make({ commit })))
  )

  /** Prometheus text of everything registered. */
  static readonly render = Effect.gen(function*() {
    const { registry } = yield* Metrics
    return { body: yield* Effect.promise(() => registry.metrics()), contentType: registry.contentType }
  })
}

/**
 * Counts and times gRPC calls (balance_grpc_requests_total, balance_grpc_request_duration_seconds)
 * with label objects made once per method and outcome, not one or two per call.
 */
export const grpcCallObserver = (metrics: Pick<Metrics["Service"], "grpcRequests" | "grpcDuration">) => {
  const byMethod = new Map<string, { readonly labels: { readonly method: string }; readonly byCode: Map<string, () => void> }>()
  return (method: string, outcome: string, seconds: number): void => {
    let m = byMethod.get(method)
    if (m === undefined) {
      m = { labels: { method }, byCode: new Map() }
      byMethod.set(method, m)
    }
    let count = m.byCode.get(outcome)
    if (count === undefined) {
      count = tallyOf(metrics.grpcRequests, { method, code: outcome })
      m.byCode.set(outcome, count)
    }
    count()
    metrics.grpcDuration.observe(m.labels, seconds)
  }
}

import { readFileSync } from "node:fs"
import { assert, layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { FINDING_KINDS } from "../../src/domain/chainVerification.ts"
import { COMMAND_OPS } from "../../src/domain/commands.ts"
import { RefusalCode } from "../../src/domain/errors.ts"
import { MetricsServer } from "../../src/observability/MetricsServer.ts"
import { ReservationExpiry } from "../../src/reservations/ReservationExpiry.ts"
import { MemoryStore } from "../../src/store/memory/MemoryStore.ts"
import { RedisStore } from "../../src/store/redis/RedisStore.ts"
import type { Store } from "../../src/store/Store.ts"
import { BalanceClient } from "../grpc/support/balanceClient.ts"
import { call, eventually, ok } from "../grpc/support/expectations.ts"
import { ShiftableClock } from "../grpc/support/shiftableClock.ts"
import { ADMIN_KEY } from "../http/support/testServer.ts"
import { makeFaultyStore } from "../support/faultyStore.ts"
import { TestRedis } from "../support/redisServer.ts"
import { type Family, parsePrometheusText, samplesOf, valueOf } from "./support/promText.ts"
import { httpBaseUrl, observedApp } from "./support/observedApp.ts"

const RAKE = { basisPoints: 500, capChips: 0, minPotChips: 0 } // 5 %, no cap, no minimum

let keys = 0
const key = (label: string) => `${label}-${++keys}`

const reserve = (accountId: string, amount: number) =>
  Effect.map(
    ok("ReserveForBuyIn", { account_id: accountId, table_id: "t1", amount: String(amount), idempotency_key: key("r") }),
    (r) => r.reservation_id as string
  )
const contribute = (handId: string, seatId: number, accountId: string, amount: number) =>
  ok("RecordContribution", {
    table_id: "t1",
    hand_id: handId,
    seat_id: seatId,
    account_id: accountId,
    amount: String(amount),
    contribution_type: "BET",
    idempotency_key: key("c")
  })

/**
 * The game, and what it leaves behind:
 * - grants alice 1000, bob 1000, carol 500; deposit alice 200 (minted 2700); withdraw carol 100 (burned 100)
 * - buy-ins: alice 500 and bob 400 committed; carol 300 released; carol 200 expired by the sweep;
 *   bob 100 still held at the end (created 5, committed 2, released 1, expired 1, active 1, held 100)
 * - hand h1: alice 100 + bob 100, alice wins: rake 10 (5 %), payout 190 (settled 1)
 * - hand h2: alice 50 + bob 50, cancelled: refund 100 (cancelled 1)
 * - hand h3: alice 20, still open (pots open 1)
 * - bob cashes out 250 from his stack
 * Circulation 2700 - 100 - 10 = 2590 = wallets 700 + 850 + 400, stacks 570 + 50, pot 20.
 */
const scriptedGame = Effect.gen(function*() {
  for (const [accountId, chips] of [["alice", 1000], ["bob", 1000], ["carol", 500]] as const) {
    yield* call("EnsureAccount", { account_id: accountId, initial_balance: String(chips) })
  }
  yield* ok("Deposit", { account_id: "alice", amount: "200", idempotency_key: key("d"), source: "PURCHASE" })
  yield* ok("Withdraw", { account_id: "carol", amount: "100", idempotency_key: key("w"), reason: "redeem" })

  yield* ok("CommitReservation", { reservation_id: yield* reserve("alice", 500) })
  yield* ok("CommitReservation", { reservation_id: yield* reserve("bob", 400) })
  yield* ok("ReleaseReservation", { reservation_id: yield* reserve("carol", 300), reason: "left the table" })
  yield* reserve("carol", 200)
  yield* ShiftableClock.use((clock) => clock.advance(31_000)) // past the 30 s default hold
  const sweep = yield* ReservationExpiry.use((expiry) => expiry.sweepOnce())
  assert.strictEqual(sweep.expired, 1)
  yield* reserve("bob", 100)

  yield* contribute("h1", 1, "alice", 100)
  yield* contribute("h1", 2, "bob", 100)
  const settled = yield* ok("SettlePot", {
    table_id: "t1",
    hand_id: "h1",
    winners: [{ seat_id: 1, account_id: "alice", amount: "190" }],
    idempotency_key: key("s")
  })
  assert.strictEqual(settled.rake, "10")
  yield* contribute("h2", 1, "alice", 50)
  yield* contribute("h2", 2, "bob", 50)
  yield* ok("CancelPot", { table_id: "t1", hand_id: "h2", reason: "misdeal", idempotency_key: key("x") })
  yield* contribute("h3", 1, "alice", 20)
  yield* ok("ProcessCashOut", { account_id: "bob", table_id: "t1", seat_id: 2, amount: "250", idempotency_key: key("o"), hand_id: "" })
  assert.strictEqual((yield* call("GetBalance", { account_id: "alice" })).balance, "700")
})

const grpcCalls: Readonly<Record<string, number>> = {
  EnsureAccount: 3,
  Deposit: 1,
  Withdraw: 1,
  ReserveForBuyIn: 5,
  CommitReservation: 2,
  ReleaseReservation: 1,
  RecordContribution: 5,
  SettlePot: 1,
  CancelPot: 1,
  ProcessCashOut: 1,
  GetBalance: 1
}

const fetchText = (url: string, headers: Record<string, string> = {}) =>
  Effect.promise(async () => {
    const response = await fetch(url, { headers })
    return { status: response.status, contentType: response.headers.get("content-type") ?? "", text: await response.text() }
  })

const scrape = (url: string) =>
  Effect.gen(function*() {
    const r = yield* fetchText(url)
    assert.strictEqual(r.status, 200)
    assert.include(r.contentType, "text/plain")
    assert.include(r.contentType, "version=0.0.4")
    return { text: r.text, families: parsePrometheusText(r.text) }
  })

/** Economy series and their exact values after the game. */
const expectedEconomy: ReadonlyArray<readonly [string, Record<string, string>, number]> = [
  ["balance_store_up", {}, 1],
  ["balance_chips_minted_total", {}, 2700],
  ["balance_chips_burned_total", {}, 100],
  ["balance_chips_raked_total", {}, 10],
  ["balance_chips_in_circulation", {}, 2590],
  ["balance_chips_supply_drift", {}, 0],
  ["balance_chips_moved_total", { type: "GRANT" }, 2500],
  ["balance_chips_moved_total", { type: "DEPOSIT" }, 200],
  ["balance_chips_moved_total", { type: "WITHDRAW" }, 100],
  ["balance_chips_moved_total", { type: "BUY_IN" }, 900],
  ["balance_chips_moved_total", { type: "CONTRIBUTION" }, 320],
  ["balance_chips_moved_total", { type: "RAKE" }, 10],
  ["balance_chips_moved_total", { type: "PAYOUT" }, 190],
  ["balance_chips_moved_total", { type: "REFUND" }, 100],
  ["balance_chips_moved_total", { type: "CASH_OUT" }, 250],
  ["balance_chips_held", {}, 100],
  ["balance_reservations_active", {}, 1],
  ["balance_reservations_total", { outcome: "created" }, 5],
  ["balance_reservations_total", { outcome: "committed" }, 2],
  ["balance_reservations_total", { outcome: "released" }, 1],
  ["balance_reservations_total", { outcome: "expired" }, 1],
  ["balance_reservation_expiry_ratio", {}, 0.25],
  ["balance_pots_open", {}, 1],
  ["balance_pots_total", { outcome: "settled" }, 1],
  ["balance_pots_total", { outcome: "cancelled" }, 1],
  ["balance_settlements_normalised_total", {}, 0]
]

const labelNamesOf = (families: ReadonlyMap<string, Family>, sample: string) =>
  [...new Set(samplesOf(families, sample).map((s) => Object.keys(s.labels).sort().join(",")))]

const gameSuite = <E>(label: string, store: Layer.Layer<Store, E>) =>
  layer(observedApp(store, { ledger: { rules: { rake: RAKE, reservationTimeoutMs: 30_000 } }, accessLog: false }), {
    excludeTestServices: true
  })(`/metrics after a scripted game (${label})`, (it) => {
    it.effect("parses strictly and shows the exact economy counters, RED histograms with their labels, on METRICS_PORT and HTTP_PORT", () =>
      Effect.gen(function*() {
        yield* scriptedGame
        const base = yield* httpBaseUrl
        assert.strictEqual((yield* fetchText(`${base}/api/accounts/alice/balance`, { "x-admin-key": ADMIN_KEY })).status, 200)
        assert.strictEqual((yield* fetchText(`${base}/api/no-such-route/123`)).status, 404)

        // A WatchAccount stream, cancelled by its client: counted like a call, its duration the stream's lifetime.
        const client = yield* BalanceClient
        yield* Effect.scoped(Effect.gen(function*() {
          const watch = yield* client.stream("balance", "WatchAccount", { account_id: "alice" })
          yield* eventually("the stream is live", Effect.sync(() => watch.headers() !== undefined))
        }))
        const { port } = yield* MetricsServer
        yield* eventually("the ended stream is counted", Effect.map(scrape(`http://127.0.0.1:${port}/metrics`), ({ families }) =>
          valueOf(families, "balance_grpc_requests_total", { method: "WatchAccount", code: "CANCELLED" }) === 1))
        const { families, text } = yield* scrape(`http://127.0.0.1:${port}/metrics`)
        // HEAD as GET without the body, on the metrics port too.
        const head = yield* Effect.promise(() => fetch(`http://127.0.0.1:${port}/metrics`, { method: "HEAD" }))
        assert.deepStrictEqual([head.status, head.headers.get("content-type")?.startsWith("text/plain"), yield* Effect.promise(() => head.text())], [200, true, ""])
        assert.strictEqual(valueOf(families, "balance_grpc_request_duration_seconds_count", { method: "WatchAccount" }), 1)

        for (const [name, labels, value] of expectedEconomy) {
          assert.strictEqual(valueOf(families, name, labels), value, `${name} ${JSON.stringify(labels)}`)
        }

        // RED: gRPC by method (and outcome code), latency histogram by method only.
        assert.deepStrictEqual(labelNamesOf(families, "balance_grpc_request_duration_seconds_count"), ["method"])
        for (const [method, n] of Object.entries(grpcCalls)) {
          assert.strictEqual(valueOf(families, "balance_grpc_request_duration_seconds_count", { method }), n, method)
          assert.strictEqual(valueOf(families, "balance_grpc_requests_total", { method, code: "OK" }), n, method)
        }
        // Store calls by operation: one apply per command that changed something, no conflicts.
        assert.deepStrictEqual(labelNamesOf(families, "balance_store_call_duration_seconds_count"), ["operation"])
        assert.strictEqual(valueOf(families, "balance_store_call_duration_seconds_count", { operation: "apply" }), 22)
        assert.isAbove(valueOf(families, "balance_store_call_duration_seconds_count", { operation: "load" }), 0)
        assert.deepStrictEqual(samplesOf(families, "balance_ledger_conflict_retries_total").filter((s) => s.value !== 0), [])
        assert.strictEqual(valueOf(families, "balance_ledger_commands_total", { operation: "Expire", outcome: "ok" }), 1)
        assert.strictEqual(valueOf(families, "balance_reservation_expiry_lateness_seconds_count"), 1)
        // HTTP by route template (never the raw path) and status.
        assert.deepStrictEqual(labelNamesOf(families, "balance_http_request_duration_seconds_count"), ["method,route,status"])
        assert.strictEqual(
          valueOf(families, "balance_http_request_duration_seconds_count", { method: "GET", route: "/api/accounts/:accountId/balance", status: "200" }),
          1
        )
        assert.strictEqual(valueOf(families, "balance_http_request_duration_seconds_count", { method: "GET", route: "other", status: "404" }), 1)
        assert.strictEqual(valueOf(families, "balance_http_requests_total", { method: "GET", route: "other", status: "404" }), 1)
        assert.notInclude(text, "no-such-route")
        assert.notInclude(text, "alice")

        // Prometheus naming: one prefix, base units, _total only (and always) on counters. The process and
        // runtime families keep their standard names (process_*, nodejs_*) for stock dashboards.
        for (const f of families.values()) {
          assert.isString(f.help, `${f.name} has HELP`)
          assert.notMatch(f.name, /_(ms|millis|milliseconds|minutes?|hours?)(_|$)/, `${f.name}: base units`)
          if (!f.name.startsWith("balance_")) {
            assert.match(f.name, /^(process|nodejs)_[a-z0-9_]+$/, f.name)
            continue
          }
          if (f.type === "counter") assert.match(f.name, /_total$/, `${f.name}: counter ends in _total`)
          else assert.notMatch(f.name, /_total$/, `${f.name}: only counters end in _total`)
          // Histograms measure seconds, except the one that counts plans per Redis call (group commit).
          if (f.type === "histogram" && f.name !== "balance_store_apply_batch_size") {
            assert.match(f.name, /_seconds$/, `${f.name}: histograms here measure seconds`)
          }
        }

        // The same registry on HTTP_PORT.
        const viaHttp = yield* scrape(`${base}/metrics`)
        for (const [name, labels, value] of expectedEconomy) {
          assert.strictEqual(valueOf(viaHttp.families, name, labels), value, `HTTP_PORT ${name} ${JSON.stringify(labels)}`)
        }
        assert.strictEqual(
          valueOf(viaHttp.families, "balance_grpc_request_duration_seconds_count", { method: "ReserveForBuyIn" }),
          5
        )
      }))
  })

gameSuite("memory store", MemoryStore.layer)

// A private redis-server on a free port (never 6379): the counters are the ones apply.lua maintains.
gameSuite(
  "redis store",
  Layer.unwrap(
    Effect.map(TestRedis, (server) =>
      RedisStore.layer({ url: server.url, keyPrefix: "obs-game:", commandTimeoutMs: 1000, retryAttempts: 2, eventsMaxLen: 10_000 }))
  ).pipe(Layer.provide(TestRedis.layer))
)

const packageVersion = (JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }).version

layer(observedApp(MemoryStore.layer), { excludeTestServices: true })("/metrics of a service that has served nothing yet", (it) => {
  it.effect("has the process and runtime metrics, balance_build_info, and every known error series at 0", () =>
    Effect.gen(function*() {
      const { port } = yield* MetricsServer
      const { families } = yield* scrape(`http://127.0.0.1:${port}/metrics`)

      for (const name of ["process_cpu_seconds_total", "process_resident_memory_bytes", "nodejs_heap_size_used_bytes"]) {
        assert.isAbove(valueOf(families, name), 0, name)
      }
      assert.isAtLeast(valueOf(families, "nodejs_eventloop_lag_seconds"), 0)
      assert.strictEqual(families.get("nodejs_gc_duration_seconds")?.type, "histogram")
      assert.strictEqual(valueOf(families, "balance_build_info", { version: packageVersion, node: process.version }), 1)

      // Labelled counters: every combination the domain's lists name is there, at 0.
      const zeroFor = (name: string, labels: Record<string, string>) =>
        assert.strictEqual(valueOf(families, name, labels), 0, `${name} ${JSON.stringify(labels)}`)
      for (const operation of COMMAND_OPS) {
        for (const outcome of ["ok", "replayed", "unavailable", "contention", ...RefusalCode.literals]) {
          zeroFor("balance_ledger_commands_total", { operation, outcome })
        }
        zeroFor("balance_ledger_conflict_retries_total", { operation })
        zeroFor("balance_idempotent_replays_total", { operation })
      }
      for (const operation of ["load", "apply"]) zeroFor("balance_store_errors_total", { operation })
      for (const object of ["wallet", "stack", "pot", "reservation"]) zeroFor("balance_stale_reads_total", { object })
      for (const kind of FINDING_KINDS) zeroFor("balance_ledger_verification_failures_total", { kind })
      for (const mode of ["full", "incremental", "account"]) {
        for (const result of ["ok", "findings"]) zeroFor("balance_ledger_verification_runs_total", { mode, result })
      }
      // gRPC: in-band refusal codes on the methods that answer them, status names on every method.
      for (const code of RefusalCode.literals) zeroFor("balance_grpc_requests_total", { method: "ReserveForBuyIn", code })
      for (const method of ["GetBalance", "WatchAccount", "Deposit", "Check"]) {
        for (const code of ["OK", "UNAVAILABLE", "INTERNAL", "INVALID_ARGUMENT", "UNAUTHENTICATED"]) {
          zeroFor("balance_grpc_requests_total", { method, code })
        }
      }
      assert.throws(() => valueOf(families, "balance_grpc_requests_total", { method: "GetBalance", code: "INSUFFICIENT_BALANCE" }))
      // HTTP: each route with the statuses it declares.
      for (const status of ["200", "401", "403", "404", "503"]) {
        zeroFor("balance_http_requests_total", { method: "GET", route: "/api/accounts/:accountId/balance", status })
      }
      zeroFor("balance_http_requests_total", { method: "POST", route: "/api/accounts/:accountId/deposit", status: "202" })

      // One name per idea: operation, never op.
      for (const f of families.values()) {
        for (const s of f.samples) assert.notProperty(s.labels, "op", f.name)
      }
    }))
})

const hanging = makeFaultyStore()
layer(observedApp(hanging.layer), { excludeTestServices: true })("/metrics while the store hangs", (it) => {
  it.effect("answers with the last figures and balance_store_up 0 instead of waiting for the store", () =>
    Effect.gen(function*() {
      const { port } = yield* MetricsServer
      assert.strictEqual(valueOf((yield* scrape(`http://127.0.0.1:${port}/metrics`)).families, "balance_store_up"), 1)
      hanging.set("hang")
      try {
        const { families } = yield* scrape(`http://127.0.0.1:${port}/metrics`)
        assert.strictEqual(valueOf(families, "balance_store_up"), 0)
      } finally {
        hanging.set("none")
      }
    }))
})

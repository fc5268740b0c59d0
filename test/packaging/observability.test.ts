/**
 * deploy/alerts.yml and the Grafana dashboard against the service's real
 * metric names: every balance_* series they query must be one that
 * the service registers (every file under src/ that uses prom-client; counters carry `_total` in their name,
 * histograms are queried as `_bucket`/`_sum`/`_count`), so a renamed metric
 * cannot leave a silent alert or an empty panel behind. When promtool is
 * installed (Debian package `prometheus`), the rules are also checked and their
 * unit tests (deploy/alerts.test.yml) run.
 */
import { spawnSync } from "node:child_process"
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { parse } from "yaml"

const root = join(import.meta.dirname, "..", "..")
const read = (path: string) => readFileSync(join(root, path), "utf8")

// ---- what the service registers ------------------------------------------------

/** Every source file that registers prom-client metrics (observability/, and the services that report their own). */
const sources = readdirSync(join(root, "src"), { recursive: true, encoding: "utf8" })
  .filter((f) => f.endsWith(".ts"))
  .map((f) => read(`src/${f}`))
  .filter((text) => text.includes("prom-client"))
  .join("\n")
const registered = new Set([...sources.matchAll(/["'`](balance_[a-z0-9_]+)["'`]/g)].map((m) => m[1]!))
const histograms = new Set(
  [...sources.matchAll(/new Prom\.Histogram\(\{[^}]*?name:\s*"(balance_[a-z0-9_]+)"/gs)].map((m) => m[1]!)
)
/** Series names a query may use: every registered name, plus _bucket/_sum/_count of histograms. */
const series = new Set([
  ...[...registered].filter((n) => !histograms.has(n)),
  ...[...histograms].flatMap((h) => [`${h}_bucket`, `${h}_sum`, `${h}_count`])
])
const metricsIn = (expr: string) => [...new Set([...expr.matchAll(/\bbalance_[a-z0-9_]+\b/g)].map((m) => m[0]))]

describe("metric names in src/observability", () => {
  it("are found (the extraction itself works)", () => {
    assert.strictEqual(registered.has("balance_grpc_requests_total"), true)
    assert.strictEqual(registered.has("balance_chips_in_circulation"), true)
    assert.strictEqual(histograms.has("balance_grpc_request_duration_seconds"), true)
    assert.strictEqual(histograms.has("balance_chips_in_circulation"), false)
  })
})

// ---- alert rules ---------------------------------------------------------------

interface Rule {
  alert?: string
  record?: string
  expr: string
  for?: string
  labels?: Record<string, string>
  annotations?: Record<string, string>
}
const rules = (parse(read("deploy/alerts.yml")) as { groups: Array<{ name: string; rules: Array<Rule> }> }).groups.flatMap(
  (g) => g.rules
)
const alert = (name: string) => {
  const rule = rules.find((r) => r.alert === name)
  assert.isDefined(rule, `alert ${name}`)
  return rule!
}
const compact = (expr: string) => expr.replace(/\s+/g, " ")

describe("deploy/alerts.yml", () => {
  it("alerts on a ledger verification failure (increase of the failures counter)", () => {
    const expr = compact(alert("BalanceLedgerVerificationFailure").expr)
    assert.match(expr, /increase\(balance_ledger_verification_failures_total\{[^}]*\}\[\w+\]\)\) > 0/)
  })

  it("alerts on supply drift from zero-sum", () => {
    assert.match(compact(alert("BalanceChipSupplyDrift").expr), /balance_chips_supply_drift\{[^}]*\}\)\) != 0/)
  })

  it("alerts when more than 1% of reservations expire", () => {
    assert.match(compact(alert("BalanceReservationExpiryRateHigh").expr), /balance_reservation_expiry_ratio\{[^}]*\}\) > 0\.01/)
  })

  it("alerts when gRPC p99 latency exceeds 50 ms", () => {
    assert.match(compact(alert("BalanceGrpcLatencyHigh").expr), 
      /histogram_quantile\(0\.99, sum by \(le, method\) \(rate\(balance_grpc_request_duration_seconds_bucket\{[^}]*\}\[\w+\]\)\) \) > 0\.05/
    )
  })

  it("alerts when Redis is down", () => {
    assert.match(compact(alert("BalanceRedisDown").expr), /balance_store_up\{[^}]*\}\) == 0/)
  })

  it("alerts on dead-lettered credits", () => {
    assert.match(compact(alert("BalanceCreditDeadLettered").expr), /balance_credit_queue_total\{[^}]*event="dead_lettered"[^}]*\}/)
  })

  it("gives every alert a severity and a summary, and uses unique names", () => {
    const names = rules.map((r) => r.alert)
    assert.strictEqual(new Set(names).size, names.length)
    for (const r of rules) {
      assert.isDefined(r.alert, r.expr)
      assert.include(["page", "ticket"], r.labels?.["severity"], r.alert)
      assert.isOk(r.annotations?.["summary"], r.alert)
    }
  })

  it("links every alert to its runbook section by a URL: the configured base + an anchor of docs/operations.md", () => {
    // GitHub-style heading anchors: lower case, punctuation dropped, spaces to dashes.
    const anchors = new Set(
      [...read("docs/operations.md").matchAll(/^#{1,6} (.+)$/gm)].map((m) =>
        m[1]!.trim().toLowerCase().replace(/[^\w\- ]/g, "").replace(/ /g, "-")
      )
    )
    for (const r of rules) {
      const url = r.annotations?.["runbook_url"]
      assert.match(url ?? "", /^\{\{ \$externalLabels\.runbook_base_url \}\}#[a-z0-9-]+$/, r.alert)
      assert.include([...anchors], url!.split("#")[1], `${r.alert}: ${url}`)
      assert.notProperty(r.annotations, "runbook", r.alert)
    }
  })

  it("queries only metrics the service registers", () => {
    for (const r of rules) {
      const used = metricsIn(r.expr)
      assert.strictEqual(used.length > 0 || /\bup\{job="balance-service"\}/.test(r.expr), true, r.alert)
      for (const m of used) assert.include(series, m, `${r.alert}: ${m}`)
    }
  })
})

// ---- dashboard -----------------------------------------------------------------

interface Panel {
  id: number
  type: string
  title: string
  datasource?: { type: string; uid: string }
  targets?: Array<{ expr: string; refId: string }>
  gridPos: { h: number; w: number; x: number; y: number }
}
const dashboardPath = "deploy/grafana/dashboards/balance-service.json"
const dashboard = JSON.parse(read(dashboardPath)) as {
  uid: string
  panels: Array<Panel>
  templating: { list: Array<{ name: string; type: string; query: unknown; definition?: string }> }
}
const queryPanels = dashboard.panels.filter((p) => p.type !== "row")
const exprs = queryPanels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })))
const queried = new Set(exprs.flatMap((e) => metricsIn(e.expr)))

describe("Grafana dashboard", () => {
  it("queries only metrics the service registers", () => {
    const variables = dashboard.templating.list.map((v) => v.definition ?? "").join(" ")
    for (const { panel, expr } of [...exprs, { panel: "variables", expr: variables }]) {
      for (const m of metricsIn(expr)) assert.include(series, m, `${panel}: ${m}`)
    }
  })

  it("covers RED: gRPC and HTTP requests and latency, store latency, conflicts, replays, stale reads, credit queue", () => {
    assert.includeMembers([...queried], [
      "balance_grpc_requests_total",
      "balance_grpc_request_duration_seconds_bucket",
      "balance_http_requests_total",
      "balance_http_request_duration_seconds_bucket",
      "balance_store_call_duration_seconds_bucket",
      "balance_store_errors_total",
      "balance_store_up",
      "balance_ledger_commands_total",
      "balance_ledger_conflict_retries_total",
      "balance_idempotent_replays_total",
      "balance_stale_reads_total",
      "balance_credit_queue_pending",
      "balance_credit_queue_total"
    ])
    const percentiles = exprs.filter((e) => /histogram_quantile\(0\.(5|95|99),/.test(e.expr))
    for (const q of ["0.5", "0.95", "0.99"]) {
      assert.strictEqual(percentiles.some((e) => e.expr.includes(`histogram_quantile(${q},`) && e.expr.includes("balance_grpc_request_duration_seconds_bucket")), true, q)
    }
  })

  it("covers the chip economy", () => {
    assert.includeMembers([...queried], [
      "balance_chips_in_circulation",
      "balance_chips_supply_drift",
      "balance_chips_minted_total",
      "balance_chips_burned_total",
      "balance_chips_raked_total",
      "balance_chips_moved_total",
      "balance_chips_held",
      "balance_reservations_active",
      "balance_reservations_total",
      "balance_reservation_expiry_ratio",
      "balance_reservation_expiry_lateness_seconds_bucket",
      "balance_pots_open",
      "balance_pots_total",
      "balance_ledger_verification_runs_total",
      "balance_ledger_verification_failures_total",
      "balance_ledger_verification_last_success_timestamp_seconds"
    ])
    // minted/burned/raked "by type": the per-transfer-type series is grouped by its label
    assert.strictEqual(exprs.some((e) => /by \(type\)[^]*balance_chips_moved_total/.test(e.expr)), true)
    // velocity in base units: chips moved per second over circulation, computed by Prometheus
    const velocity = queryPanels.find((p) => p.title === "Circulation velocity")!
    assert.match(compact(velocity.targets![0]!.expr), 
      /^sum\(max by \(type\) \(rate\(balance_chips_moved_total\{[^}]*\}\[\$__rate_interval\]\)\)\) \/ max\(balance_chips_in_circulation\{[^}]*\}\)$/
    )
  })

  it("charts the process and runtime metrics and which build runs", () => {
    for (const metric of [
      /rate\(process_cpu_seconds_total\{/,
      /process_resident_memory_bytes\{/,
      /nodejs_heap_size_used_bytes\{/,
      /nodejs_eventloop_lag_p99_seconds\{/,
      /rate\(nodejs_gc_duration_seconds_sum\{/,
      /^balance_build_info\{/
    ]) {
      assert.strictEqual(exprs.some((e) => metric.test(e.expr)), true, String(metric))
    }
  })

  it("names one idea once: the operation label, never op", () => {
    for (const { panel, expr } of exprs) assert.notMatch(expr, /\bop\b/, panel)
    for (const p of queryPanels) for (const t of p.targets ?? []) assert.notInclude(JSON.stringify(t), "{{op}}", p.title)
    for (const r of rules) assert.notMatch(r.expr, /\bop\b/, r.alert)
  })

  it("every metric the service registers is on the dashboard", () => {
    const missing = [...registered].filter((m) =>
      histograms.has(m) ? !queried.has(`${m}_bucket`) : !queried.has(m)
    )
    assert.deepStrictEqual(missing, [])
  })

  it("aggregates the cluster-wide economy series with max, never sum (every instance reports the same figure)", () => {
    for (const { panel, expr } of exprs) {
      assert.notMatch(expr, /sum[^(]*\((rate|increase)?\(?balance_(chips|reservations?|pots|settlements)_/, panel)
    }
  })

  it("is well formed: unique panel ids, a datasource on every query panel, panels inside the 24-column grid", () => {
    const ids = dashboard.panels.map((p) => p.id)
    assert.strictEqual(new Set(ids).size, ids.length)
    assert.strictEqual(dashboard.uid, "balance-service")
    for (const p of queryPanels) {
      assert.strictEqual(p.datasource?.uid, "${datasource}", p.title)
      assert.isAbove(p.targets?.length ?? 0, 0, p.title)
      assert.isAtMost(p.gridPos.x + p.gridPos.w, 24, p.title)
      for (const t of p.targets ?? []) assert.notStrictEqual(t.expr.trim(), "", p.title)
    }
    const variable = dashboard.templating.list.find((v) => v.name === "datasource")!
    assert.strictEqual(variable.type, "datasource")
    assert.strictEqual(variable.query, "prometheus")
  })

  it("no two panels overlap", () => {
    const cells = new Set<string>()
    for (const p of dashboard.panels) {
      for (let x = p.gridPos.x; x < p.gridPos.x + p.gridPos.w; x++) {
        for (let y = p.gridPos.y; y < p.gridPos.y + p.gridPos.h; y++) {
          const cell = `${x},${y}`
          assert.strictEqual(cells.has(cell), false, `${p.title} overlaps at ${cell}`)
          cells.add(cell)
        }
      }
    }
  })
})

// ---- promtool, when installed -------------------------------------------------------

const promtool = spawnSync("promtool", ["--version"], { encoding: "utf8" }).status === 0

describe.skipIf(!promtool)("promtool (when installed)", () => {
  it("accepts the alert rules", () => {
    const r = spawnSync("promtool", ["check", "rules", "deploy/alerts.yml"], { cwd: root, encoding: "utf8" })
    assert.match(r.stdout + r.stderr, /SUCCESS/)
    assert.strictEqual(r.status, 0)
  })

  it("passes the alert unit tests (deploy/alerts.test.yml)", () => {
    const r = spawnSync("promtool", ["test", "rules", "deploy/alerts.test.yml"], { cwd: root, encoding: "utf8" })
    assert.match(r.stdout + r.stderr, /SUCCESS/)
    assert.strictEqual(r.status, 0)
  })
})

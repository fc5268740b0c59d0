import { Effect, Layer } from "effect"
import * as Prom from "prom-client"
import { noSystemBalances, SYSTEM_ACCOUNTS, type SystemAccount } from "../domain/accounts.ts"
import type { StatName } from "../domain/plan.ts"
import { TRANSFER_TYPES } from "../domain/transfer.ts"
import { Store } from "../store/Store.ts"
import { Metrics } from "../observability/Metrics.ts"

interface Reading {
  readonly up: boolean
  readonly stats: Readonly<Partial<Record<StatName, number>>>
  readonly system: Readonly<Record<SystemAccount, number>>
}

/** How long one scrape may wait for the store's counters. */
const SCRAPE_STORE_BUDGET_MS = 1_000

/**
 * The chip economy, read on scrape from counters that apply.lua maintains in
 * the same atomic write as the balances (one HGETALL each, never a scan of
 * accounts), so every instance reports the same cluster-wide figures.
 */
export const layer = Layer.effectDiscard(Effect.gen(function*() {
  const { registry } = yield* Metrics
  const store = yield* Store
  const registers = [registry]

  let last: Reading = { up: false, stats: {}, system: noSystemBalances() }
  let inFlight: Promise<Reading> | undefined
  /** One store read per scrape, shared by every collector (they run concurrently). */
  const read = (): Promise<Reading> => {
    inFlight ??= Effect.runPromise(
      Effect.all({ stats: store.stats(), system: store.systemBalances() }).pipe(
        // A scrape must answer well inside Prometheus' scrape timeout even when Redis hangs (the store's
        // own deadline and retries could take seconds): then the last figures, and balance_store_up 0.
        Effect.timeout(SCRAPE_STORE_BUDGET_MS),
        Effect.map((r): Reading => ({ up: true, ...r })),
        Effect.orElseSucceed((): Reading => ({ ...last, up: false }))
      )
    ).then((r) => {
      last = r
      setTimeout(() => (inFlight = undefined), 0)
      return r
    })
    return inFlight
  }
  const stat = (r: Reading, name: StatName) => r.stats[name] ?? 0
  /** Every chip outside the system accounts: minus what they hold together (the books sum to 0). */
  const circulation = (r: Reading) => -SYSTEM_ACCOUNTS.reduce((sum, account) => sum + r.system[account], 0)

  const gauge = (name: string, help: string, value: (r: Reading) => number) =>
    new Prom.Gauge({ name, help, registers, async collect() { this.set(value(await read())) } })
  const counter = (name: string, help: string, value: (r: Reading) => number) =>
    new Prom.Counter({
      name,
      help,
      registers,
      async collect() {
        this.reset()
        this.inc(value(await read()))
      }
    })
  /** A counter with one series per label value, each a figure of the reading. */
  const labelledCounter = (
    name: string,
    help: string,
    label: string,
    values: ReadonlyArray<readonly [string, (r: Reading) => number]>
  ) =>
    new Prom.Counter({
      name,
      help,
      labelNames: [label],
      registers,
      async collect() {
        const r = await read()
        this.reset()
        for (const [labelValue, value] of values) this.inc({ [label]: labelValue }, value(r))
      }
    })

  gauge("balance_store_up", "1 when the store answered the last scrape", (r) => (r.up ? 1 : 0))
  gauge("balance_chips_in_circulation", "Chips in wallets, stacks and pots (minted - burned - raked)", circulation)
  gauge(
    "balance_chips_supply_drift",
    "Circulation from the system accounts minus circulation from the counters; anything but 0 means tampering",
    (r) => circulation(r) - (stat(r, "minted") - stat(r, "burned") - stat(r, "raked"))
  )
  counter("balance_chips_minted_total", "Chips created (grants and deposits): the sources", (r) => stat(r, "minted"))
  counter("balance_chips_burned_total", "Chips destroyed (withdrawals): the sinks", (r) => stat(r, "burned"))
  counter("balance_chips_raked_total", "Chips taken as rake", (r) => stat(r, "raked"))
  labelledCounter(
    "balance_chips_moved_total",
    "Chips moved, by transfer type",
    "type",
    TRANSFER_TYPES.map((t) => [t, (r: Reading) => stat(r, `by_type:${t}`)] as const)
  )
  gauge("balance_chips_held", "Chips held by active reservations", (r) => stat(r, "held"))
  gauge("balance_reservations_active", "Reservations currently HELD", (r) => stat(r, "reservations_active"))
  labelledCounter(
    "balance_reservations_total",
    "Reservations by what happened to them",
    "outcome",
    (["created", "committed", "released", "expired"] as const).map((o) => [o, (r: Reading) => stat(r, `reservations_${o}`)] as const)
  )
  gauge("balance_reservation_expiry_ratio", "Expired / closed reservations (committed + released + expired)", (r) => {
    const closed = stat(r, "reservations_committed") + stat(r, "reservations_released") + stat(r, "reservations_expired")
    return closed === 0 ? 0 : stat(r, "reservations_expired") / closed
  })
  gauge("balance_pots_open", "Pots ACTIVE now", (r) => stat(r, "pots_open"))
  labelledCounter(
    "balance_pots_total",
    "Pots closed, by outcome",
    "outcome",
    (["settled", "cancelled"] as const).map((o) => [o, (r: Reading) => stat(r, `pots_${o}`)] as const)
  )
  counter("balance_settlements_normalised_total", "Settlements whose requested amounts had to be scaled to the pot", (r) =>
    stat(r, "settlements_normalised"))

  // Velocity (chips moved per second relative to circulation) is PromQL over the two series above,
  // not a figure kept here: sum(max by (type) (rate(balance_chips_moved_total[5m]))) / max(balance_chips_in_circulation).
}))

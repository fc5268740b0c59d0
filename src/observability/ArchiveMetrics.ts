import * as Prom from "prom-client"

/**
 * The archiver's instruments (src/archive/Archiver.ts), registered on the
 * service's registry when HISTORY_ARCHIVE=on builds an archiver. Per instance:
 * only the lease holder archives, so aggregate rows and trims with sum, the
 * lag with max (the holder's figure; a standby reports its last one).
 */
export const makeArchiveMetrics = (registry: Prom.Registry) => {
  const registers = [registry]
  return {
    rows: new Prom.Counter({
      name: "balance_archive_rows_total",
      help: "Rows the archiver committed to the history store, by kind (entries, transfers, closed objects)",
      labelNames: ["kind"],
      registers
    }),
    passes: new Prom.Counter({
      name: "balance_archive_passes_total",
      help: "Archiver passes by outcome (committed, idle, standby: another instance holds the lease, fenced, cursor_moved, failed)",
      labelNames: ["outcome"],
      registers
    }),
    continuityStops: new Prom.Counter({
      name: "balance_archive_continuity_stops_total",
      help: "Accounts the archiver stopped for because their Redis chain does not continue the archived one",
      registers
    }),
    lagSeconds: new Prom.Gauge({
      name: "balance_archive_lag_seconds",
      help: "Age of the oldest stream event not yet archived (0 when caught up), as last measured by this instance",
      registers
    }),
    leader: new Prom.Gauge({
      name: "balance_archive_leader",
      help: "1 while this instance holds the archiver lease",
      registers
    }),
    trimmed: new Prom.Counter({
      name: "balance_archive_trimmed_total",
      help: "What the archiver removed from Redis after PostgreSQL committed it, by kind (entries, transfers, events, closed: settled pots replaced by their markers, retired: closed pots and reservations removed after CLOSED_RETENTION_MS)",
      labelNames: ["kind"],
      registers
    }),
    trimSkips: new Prom.Counter({
      name: "balance_archive_trim_skips_total",
      help: "Parts of accounts (entries, transfers, closed: a settled pot kept whole, retire: a closed object kept past its retention) left in Redis because they did not match what the archive holds",
      labelNames: ["part"],
      registers
    })
  }
}

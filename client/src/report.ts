import { accountsOf, chipsOf, type Movement } from "./game/movements.ts"
import type { JournalEntry } from "./game/ReconciliationJournal.ts"

export interface Tally {
  count: number
  chips: number
}

export interface ReportRow {
  readonly tableId: string
  /** The player, or "-" for what belongs to the table (a cancelled hand). */
  readonly accountId: string
  readonly permittedOffline: Tally
  readonly applied: Tally
  readonly refused: Tally
  readonly pending: Tally
}

export interface ReconciliationReport {
  readonly rows: ReadonlyArray<ReportRow>
  readonly totals: { readonly permittedOffline: Tally; readonly applied: Tally; readonly refused: Tally; readonly pending: Tally }
  /** Every refused movement with what to do about it: nothing refused is ever dropped from this list. */
  readonly refusals: ReadonlyArray<{
    readonly entryId: string
    readonly movement: Movement
    readonly code: string
    readonly message: string
    readonly advice: string
    readonly at: number
  }>
  readonly oldestPendingAt: number | undefined
}

const tally = (): Tally => ({ count: 0, chips: 0 })

/** A movement's share per player: a settle pays each winner their amount; the rest belong to their one player. */
const shares = (m: Movement): ReadonlyArray<{ accountId: string; chips: number }> =>
  m.kind === "settle"
    ? m.winners.map((w) => ({ accountId: w.accountId, chips: w.amount }))
    : m.kind === "cancel"
    ? [{ accountId: "-", chips: 0 }]
    : accountsOf(m).map((accountId) => ({ accountId, chips: chipsOf(m) }))

/** Per table and player: what was permitted offline, and of that what was applied, refused, or still waits. */
export const buildReport = (entries: ReadonlyArray<JournalEntry>): ReconciliationReport => {
  const rows = new Map<string, ReportRow>()
  const totals = { permittedOffline: tally(), applied: tally(), refused: tally(), pending: tally() }
  const refusals: Array<ReconciliationReport["refusals"][number]> = []
  let oldestPendingAt: number | undefined
  for (const e of entries) {
    for (const { accountId, chips } of shares(e.movement)) {
      const id = `${e.movement.tableId}\u0000${accountId}`
      let row = rows.get(id)
      if (row === undefined) {
        row = { tableId: e.movement.tableId, accountId, permittedOffline: tally(), applied: tally(), refused: tally(), pending: tally() }
        rows.set(id, row)
      }
      const bucket = e.state === "applied" ? "applied" : e.state === "refused" ? "refused" : "pending"
      row.permittedOffline.count++
      row.permittedOffline.chips += chips
      row[bucket].count++
      row[bucket].chips += chips
    }
    const bucket = e.state === "applied" ? "applied" : e.state === "refused" ? "refused" : "pending"
    totals.permittedOffline.count++
    totals.permittedOffline.chips += chipsOf(e.movement)
    totals[bucket].count++
    totals[bucket].chips += chipsOf(e.movement)
    if (e.state === "refused" && e.refusal !== undefined) {
      refusals.push({ entryId: e.id, movement: e.movement, code: e.refusal.code, message: e.refusal.message, advice: e.refusal.advice, at: e.refusal.at })
    }
    if (e.state === "pending") oldestPendingAt = Math.min(oldestPendingAt ?? e.at, e.at)
  }
  const sorted = [...rows.values()].sort((a, b) => a.tableId.localeCompare(b.tableId) || a.accountId.localeCompare(b.accountId))
  return { rows: sorted, totals, refusals, oldestPendingAt }
}

const cell = (t: Tally) => `${t.count} (${t.chips})`

/** The report as text for a terminal: a table per player, then every refusal with its advice. */
export const formatReport = (r: ReconciliationReport, now = Date.now()): string => {
  const header = ["table", "player", "permitted offline", "applied", "refused", "pending"]
  const lines = r.rows.map((x) => [x.tableId, x.accountId, cell(x.permittedOffline), cell(x.applied), cell(x.refused), cell(x.pending)])
  lines.push(["TOTAL", "", cell(r.totals.permittedOffline), cell(r.totals.applied), cell(r.totals.refused), cell(r.totals.pending)])
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)))
  const fmt = (l: ReadonlyArray<string>) => l.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd()
  const out = [
    "Reconciliation report: movements permitted offline, count (chips)",
    fmt(header),
    fmt(widths.map((w) => "-".repeat(w))),
    ...lines.map(fmt)
  ]
  if (r.oldestPendingAt !== undefined) out.push("", `pending: oldest waiting ${Math.round((now - r.oldestPendingAt) / 1000)} s (replayed when the service answers)`)
  if (r.refusals.length > 0) {
    out.push("", `REFUSED ON REPLAY (${r.refusals.length}): operator action needed, chips were NOT granted`)
    for (const f of r.refusals) {
      out.push(`- ${f.entryId} ${f.movement.kind} table=${f.movement.tableId} key=${f.movement.key} chips=${chipsOf(f.movement)}: ${f.code} ${f.message}`)
      out.push(`  what to do: ${f.advice.replaceAll("<id>", f.entryId)}`)
    }
  } else {
    out.push("", "refused on replay: none")
  }
  return out.join("\n")
}

#!/usr/bin/env node
/**
 * balance-reconcile: the operator's view of a game's reconciliation journal.
 *
 *   balance-reconcile report <journalDir> [--json]
 *       per table and player: what was permitted offline, applied, refused,
 *       still pending; every refusal with what to do. Read-only: safe while
 *       the game runs.
 *   balance-reconcile replay <journalDir> [--address host:port ...] [--token T]
 *       replays what is pending now (the game process must be stopped: one
 *       process per journal).
 *   balance-reconcile retry <journalDir> <entryId> [--address ...]
 *       after fixing the cause of a refusal: puts it back in line and replays.
 *
 * Exit status: 0 nothing refused or pending, 1 something needs attention, 2 usage.
 */
import { existsSync, readdirSync } from "node:fs"
import { parseArgs } from "node:util"
import { GameBalance } from "../game/GameBalance.ts"
import { readJournalDir } from "../game/ReconciliationJournal.ts"
import { buildReport, formatReport } from "../report.ts"
import { stderrLogger } from "../telemetry.ts"
import { connectionFlags, connectionOptions, runCommand, UsageError } from "./options.ts"

const USAGE = "usage: balance-reconcile report|replay <journalDir> [--json] | retry <journalDir> <entryId> [--address host:port] [--token T]"

/**
 * A directory a game's journal lives in. A mistyped path would otherwise read as an empty
 * journal ("nothing permitted offline, nothing refused", exit 0), or replay would create it.
 */
const journalDirOf = (dir: string | undefined): string => {
  if (!dir) throw new UsageError(USAGE)
  if (!existsSync(dir)) throw new UsageError(`no reconciliation journal at ${dir}: the directory does not exist (give the game's journalDir)`)
  if (!readdirSync(dir).some((f) => /^journal(-\d+)?\.jsonl$/.test(f))) {
    throw new UsageError(`no reconciliation journal in ${dir}: no journal.jsonl there (give the game's journalDir)`)
  }
  return dir
}

runCommand("balance-reconcile", async () => {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { json: { type: "boolean", default: false }, ...connectionFlags }
  })
  const [command, rawDir, entryId] = positionals
  if (command !== "report" && command !== "replay" && command !== "retry") throw new UsageError(USAGE)
  const dir = journalDirOf(rawDir)

  const printReport = () => {
    const report = buildReport(readJournalDir(dir))
    process.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatReport(report)}\n`)
    return report.refusals.length === 0 && report.totals.pending.count === 0 ? 0 : 1
  }

  if (command === "report") return printReport()
  if (command === "retry" && !entryId) throw new UsageError(USAGE)
  const game = new GameBalance({ client: connectionOptions(values), mode: "enforce", journalDir: dir, replayIntervalMs: 3_600_000, logger: stderrLogger("info") })
  if (command === "retry" && !game.retryRefused(entryId!)) {
    await game.close()
    throw new UsageError(`no refused entry ${entryId} in ${dir}`)
  }
  const pass = await game.replayPending()
  await game.close()
  process.stdout.write(`replayed: ${pass.applied} applied, ${pass.refused} refused, ${pass.remaining} still pending${pass.stoppedBy ? ` (${pass.stoppedBy})` : ""}\n\n`)
  return printReport()
})

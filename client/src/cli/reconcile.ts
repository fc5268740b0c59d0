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
import { parseArgs } from "node:util"
import { GameBalance } from "../game/GameBalance.ts"
import { readJournalDir } from "../game/ReconciliationJournal.ts"
import { buildReport, formatReport } from "../report.ts"
import { stderrLogger } from "../telemetry.ts"
import { connectionFlags, connectionOptions } from "./options.ts"

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { json: { type: "boolean", default: false }, ...connectionFlags }
})
const [command, dir, entryId] = positionals

const usage = () => {
  process.stderr.write("usage: balance-reconcile report|replay <journalDir> [--json] | retry <journalDir> <entryId> [--address host:port] [--token T]\n")
  process.exit(2)
}

const printReport = () => {
  const report = buildReport(readJournalDir(dir!))
  process.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatReport(report)}\n`)
  return report.refusals.length === 0 && report.totals.pending.count === 0 ? 0 : 1
}

if (!dir) usage()
if (command === "report") process.exit(printReport())
if (command === "replay" || command === "retry") {
  if (command === "retry" && !entryId) usage()
  const game = new GameBalance({ client: connectionOptions(values), mode: "enforce", journalDir: dir!, replayIntervalMs: 3_600_000, logger: stderrLogger("info") })
  if (command === "retry" && !game.retryRefused(entryId!)) {
    process.stderr.write(`no refused entry ${entryId} in ${dir}\n`)
    await game.close()
    process.exit(2)
  }
  const pass = await game.replayPending()
  await game.close()
  process.stdout.write(`replayed: ${pass.applied} applied, ${pass.refused} refused, ${pass.remaining} still pending${pass.stoppedBy ? ` (${pass.stoppedBy})` : ""}\n\n`)
  process.exit(printReport())
}
usage()

#!/usr/bin/env node
/**
 * balance-table-sim: plays poker hands through GameBalance, the way a game
 * server embeds the client. The runnable example of the integration, and a
 * load source (more tables, no delay).
 *
 *   balance-table-sim --address 127.0.0.1:50051 --mode enforce --journal-dir .balance-journal \
 *     --tables 2 --players 3 --hands 10 --hand-delay-ms 1000 --seed-wallets 1000 --report
 *
 * Prints every hand and its decisions (applied / offline(cause) / REFUSED / legacy),
 * a status line every --status-ms (breaker, journal pending and age), then waits
 * up to --wait-replay-ms for the journal to drain and prints the reconciliation report.
 * SIGUSR2 cycles the mode at run time (off -> shadow -> enforce), as a feature flag would.
 */
import { parseArgs } from "node:util"
import { BalanceClient } from "../BalanceClient.ts"
import { GameBalance, MIGRATION_MODES, type MigrationMode } from "../game/GameBalance.ts"
import { readJournalDir } from "../game/ReconciliationJournal.ts"
import { buildReport, formatReport } from "../report.ts"
import { DEFAULT_SIMULATION, runSimulation, seedWallets, type SimulationSettings } from "../sim/tableSimulator.ts"
import { type ClientEvent, stderrLogger } from "../telemetry.ts"
import { connectionFlags, connectionOptions, runCommand, UsageError } from "./options.ts"

runCommand("balance-table-sim", async () => {
  const { values } = parseArgs({
    options: {
      ...connectionFlags,
      mode: { type: "string", default: "enforce" },
      "journal-dir": { type: "string", default: ".balance-journal" },
      prefix: { type: "string", default: `sim${Date.now().toString(36)}` },
      tables: { type: "string", default: "2" },
      players: { type: "string", default: "3" },
      hands: { type: "string", default: "10" },
      seed: { type: "string", default: "1" },
      "buy-in": { type: "string", default: "200" },
      "hand-delay-ms": { type: "string", default: "0" },
      "seed-wallets": { type: "string" },
      "status-ms": { type: "string", default: "2000" },
      "wait-replay-ms": { type: "string", default: "60000" },
      report: { type: "boolean", default: false },
      quiet: { type: "boolean", default: false }
    }
  })

  const int = (name: keyof typeof values) => {
    const n = Number(values[name])
    if (!/^[0-9]+$/.test(String(values[name])) || !Number.isSafeInteger(n)) {
      throw new UsageError(`--${name} must be a non-negative integer, got ${JSON.stringify(values[name])}`)
    }
    return n
  }
  if (!MIGRATION_MODES.includes(values.mode as MigrationMode)) throw new UsageError(`--mode must be one of ${MIGRATION_MODES.join(", ")}`)

  const started = Date.now()
  const stamp = () => `[${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s]`
  const say = (line: string) => process.stdout.write(`${stamp()} ${line}\n`)

  const client = new BalanceClient({
    ...connectionOptions(values),
    attemptTimeoutMs: 1_000,
    callTimeoutMs: 3_000,
    telemetry: {
      startSpan: () => ({ setAttribute: () => {}, addEvent: () => {}, end: () => {}, propagationHeaders: () => ({}) }),
      onEvent: (e: ClientEvent) => {
        if (e.type === "breaker") say(`circuit breaker -> ${e.state}`)
      }
    }
  })
  const settings: Partial<SimulationSettings> = {
    prefix: values.prefix,
    tables: int("tables"),
    playersPerTable: int("players"),
    hands: int("hands"),
    seed: int("seed"),
    buyIn: int("buy-in"),
    handDelayMs: int("hand-delay-ms")
  }
  if (values["seed-wallets"] !== undefined) {
    await seedWallets(client, { ...DEFAULT_SIMULATION, ...settings }, int("seed-wallets"))
    say(`wallets seeded with ${values["seed-wallets"]} chips each`)
  }
  const game = new GameBalance({ client, mode: values.mode as MigrationMode, journalDir: values["journal-dir"], replayIntervalMs: 500, logger: stderrLogger("error") })
  process.on("SIGUSR2", () => {
    const next = MIGRATION_MODES[(MIGRATION_MODES.indexOf(game.mode) + 1) % MIGRATION_MODES.length]!
    game.setMode(next)
    say(`mode -> ${next}`)
  })
  const status = () => {
    const s = game.stats()
    const j = s.journal
    say(`status: mode=${s.mode} breaker=${s.breaker} journal pending=${j.pending}${j.pending > 0 ? ` oldest=${(j.oldestAgeMs / 1000).toFixed(1)}s` : ""} ` +
      `replayed=${s.decisions.replayed} refused-on-replay=${s.decisions.replayRefused} shadow-divergences=${Object.values(s.shadow.divergences).reduce((a, b) => a + b, 0)}`)
  }
  const ticker = setInterval(status, int("status-ms"))
  say(`playing ${settings.hands} hands at ${settings.tables} tables of ${settings.playersPerTable} (prefix ${settings.prefix}, mode ${game.mode}, service ${client.transport.endpointStatus().map((e) => e.address).join(", ")})`)
  const result = await runSimulation(game, settings, values.quiet ? () => {} : say)
  say(`game over: ${result.hands} hands played over all tables; decisions ${JSON.stringify(result.decisions)}`)
  const waitUntil = Date.now() + int("wait-replay-ms")
  while (game.stats().journal.pending > 0 && Date.now() < waitUntil) {
    await new Promise((r) => setTimeout(r, 250))
  }
  clearInterval(ticker)
  status()
  const pending = game.stats().journal.pending
  await game.close()
  client.close()
  if (values.report) process.stdout.write(`\n${formatReport(buildReport(readJournalDir(values["journal-dir"])))}\n`)
  return pending === 0 ? 0 : 1
})

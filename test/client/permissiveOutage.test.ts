import { appendFileSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { type BalanceClient, buildReport, GameBalance, readJournalDir } from "../../client/src/index.ts"
import { JOURNAL_FILE } from "../../client/src/game/ReconciliationJournal.ts"
import { playerIdOf, runSimulation, seedWallets, type SimulationSettings, tableIdOf } from "../../client/src/sim/tableSimulator.ts"
import { eventually } from "../support/eventually.ts"
import { booksOf, useServiceHarness } from "./support/serviceHarness.ts"
import { FAST_FAIL } from "./support/settings.ts"

/**
 * The permissive fallback of enforce mode, against the real service: the same
 * deterministic game is played twice, once with the service up throughout and
 * once with the service killed (-9) in the middle and started again later.
 * Movements the game made while it was away are journaled, replayed with
 * their original keys once it is back, and the books end equal to the run
 * without the outage. A player who bought in offline for more than the wallet
 * holds is refused on replay and reported, and gets no chips.
 */

const harness = useServiceHarness()

const GAME = { tables: 2, playersPerTable: 3, hands: 10, seed: 7, buyIn: 200, smallBlind: 5 } as const
const WALLET = 1_000

const accountsAndTables = (s: Pick<SimulationSettings, "prefix" | "tables" | "playersPerTable">) => {
  const accounts: Array<string> = []
  const tables: Array<string> = []
  for (let t = 0; t < s.tables; t++) {
    tables.push(tableIdOf({ ...GAME, handDelayMs: 0, ...s }, t))
    for (let i = 0; i < s.playersPerTable; i++) accounts.push(playerIdOf({ ...GAME, handDelayMs: 0, ...s }, t, i))
  }
  return { accounts, tables }
}

/** The books of a run with its prefix taken out of every name, so two runs compare key by key. */
const normalisedBooks = async (client: BalanceClient, prefix: string) => {
  const { accounts, tables } = accountsAndTables({ ...GAME, prefix })
  const books = await booksOf(client, accounts, tables)
  return Object.fromEntries(Object.entries(books).map(([k, v]) => [k.replaceAll(`${prefix}-`, ""), v]))
}

describe("enforce mode, permissive fallback during an outage", () => {
  it("journals what the game did offline, replays it exactly once, and the books equal a run without the outage", async () => {
    const h = harness()
    const client = h.client(FAST_FAIL)
    const settings = { ...GAME, handDelayMs: 0 }

    // Run A: the service up throughout.
    await seedWallets(client, { ...settings, prefix: "a" }, WALLET)
    const gameA = new GameBalance({ client, mode: "enforce", journalDir: h.tempDir("journal-a"), logger: () => {} })
    const runA = await runSimulation(gameA, { ...settings, prefix: "a" })
    await gameA.close()
    assert.strictEqual(runA.decisions.refused, 0)
    assert.strictEqual(runA.decisions["permitted-offline"], 0)
    const booksA = await normalisedBooks(client, "a")

    // Run B: the same game; the service is killed after a few movements and started again a while later.
    await seedWallets(client, { ...settings, prefix: "b" }, WALLET)
    await client.checked("EnsureAccount", { account_id: "b-overdraft", initial_balance: 100 })
    const journalDir = h.tempDir("journal-b")
    const gameB = new GameBalance({ client, mode: "enforce", journalDir, replayIntervalMs: 200, logger: () => {} })
    let lines = 0
    const running = runSimulation(gameB, { ...settings, prefix: "b", handDelayMs: 60 }, () => void lines++)
    await eventually("a few hands played", () => (lines >= 8 ? true : undefined), { timeoutMs: 30_000, intervalMs: 5 })
    await h.kill9()
    // While the service is away: a player buys in for more than the wallet holds, and bets from that stack.
    const overdraft = await gameB.buyIn({ tableId: "b-x", accountId: "b-overdraft", amount: 500, key: "b-x:buyin" })
    assert.strictEqual(overdraft.decision, "permitted-offline")
    const bet = await gameB.contribute({ tableId: "b-x", handId: "h1", seatId: 1, accountId: "b-overdraft", amount: 50, type: "BET", key: "b-x:h1:1" })
    assert.strictEqual(bet.decision, "permitted-offline")
    const offlineSoFar = lines
    await eventually("hands played offline", () => (lines >= offlineSoFar + 4 ? true : undefined), { timeoutMs: 30_000, intervalMs: 5 })
    await h.start()
    const runB = await running
    assert.strictEqual(runB.decisions.refused, 0, "nothing the game did was refused at the time")
    assert.isAtLeast(runB.decisions["permitted-offline"], 4, "the outage fell in the middle of the run")
    assert.deepStrictEqual(runB.cashedOut, Object.fromEntries(Object.entries(runA.cashedOut).map(([k, v]) => [k.replace(/^a-/, "b-"), v])))

    await eventually("the journal replayed", () => (gameB.stats().journal.pending === 0 ? true : undefined), { timeoutMs: 60_000 })
    const stats = gameB.stats()
    await gameB.close()

    assert.deepStrictEqual(await normalisedBooks(client, "b"), booksA, "books after replay equal the run without the outage")

    // The refused replays are reported with what to do; the overdraft player got no chips.
    const report = buildReport(readJournalDir(journalDir))
    assert.strictEqual(report.totals.pending.count, 0)
    assert.strictEqual(report.totals.permittedOffline.count, report.totals.applied.count + report.totals.refused.count)
    assert.deepStrictEqual(report.refusals.map((r) => [r.movement.key, r.code]), [["b-x:buyin", "INSUFFICIENT_BALANCE"], ["b-x:h1:1", "INSUFFICIENT_STACK"]])
    for (const r of report.refusals) assert.match(r.advice, /retry|Deposit|Resolve/)
    assert.strictEqual(stats.decisions.replayRefused, 2)
    const overdraftBooks = await booksOf(client, ["b-overdraft"], ["b-x"])
    assert.deepStrictEqual(overdraftBooks, { "wallet:b-overdraft": 100, "stack:b-x:b-overdraft": 0 })
    const row = report.rows.find((x) => x.tableId === "b-x" && x.accountId === "b-overdraft")!
    assert.deepStrictEqual([row.permittedOffline.count, row.applied.count, row.refused.count], [2, 0, 2])

    // Exactly once: replaying every journaled movement again (a fresh journal holding all of them as pending,
    // as after a crash before any outcome was written) moves nothing: the service answers each key as before.
    const againDir = h.tempDir("journal-again")
    for (const raw of readFileSync(join(journalDir, JOURNAL_FILE), "utf8").split("\n")) {
      if (raw.includes('"t":"movement"')) appendFileSync(join(againDir, JOURNAL_FILE), `${raw}\n`)
    }
    const again = new GameBalance({ client, mode: "enforce", journalDir: againDir, replayIntervalMs: 60_000, logger: () => {} })
    const pass = await again.replayPending()
    await again.close()
    assert.strictEqual(pass.remaining, 0)
    assert.strictEqual(pass.applied, report.totals.applied.count)
    assert.strictEqual(pass.refused, 2)
    assert.deepStrictEqual(await normalisedBooks(client, "b"), booksA, "a second replay of the same keys changed nothing")
    console.log(
      `[client outage] run with outage: ${runB.decisions.applied} applied online, ${runB.decisions["permitted-offline"]} permitted offline ` +
        `(+2 overdraft movements); replayed ${report.totals.applied.count}, refused ${report.totals.refused.count}; books equal the run without the outage`
    )
  }, 120_000)
})

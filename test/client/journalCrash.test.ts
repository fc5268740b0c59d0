import { spawn } from "node:child_process"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import { GameBalance, readJournalDir } from "../../client/src/index.ts"
import { JOURNAL_FILE } from "../../client/src/game/ReconciliationJournal.ts"
import { freePort } from "../../src/childProcess/serverChild.ts"
import { eventually } from "../support/eventually.ts"
import { nodeBinary } from "../chaos/support/serviceProcess.ts"
import { registerChild } from "../support/children.ts"
import { booksOf, useServiceHarness } from "./support/serviceHarness.ts"

/**
 * kill -9 of the game process while it writes the reconciliation journal: on
 * restart (a new process on the same journal), every movement the game was
 * told it could go on with is replayed, none twice, and the one being written
 * at the kill is either whole or absent.
 */

const ROOT = fileURLToPath(new URL("../../", import.meta.url))
const harness = useServiceHarness()

const PREFIX = "crash"
const TABLES = 3
const PLAYERS = 5
const WALLET = 100_000

describe("kill -9 of the process holding the client while it writes the journal", () => {
  it("loses no acknowledged movement and doubles none on restart", async () => {
    const h = harness()
    const journalDir = h.tempDir("crash-journal")
    const dead = `127.0.0.1:${await freePort()}`
    const child = spawn(nodeBinary(), ["test/client/support/journalWriter.ts", "write", journalDir, dead, PREFIX], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] })
    registerChild(child)
    const acked: Array<string> = []
    let stderr = ""
    let partial = ""
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
      partial += chunk
      const lines = partial.split("\n")
      partial = lines.pop() ?? ""
      for (const l of lines) if (l.startsWith("acked ")) acked.push(l.slice(6))
    })
    child.stderr!.setEncoding("utf8").on("data", (chunk: string) => void (stderr += chunk))
    // "close": the process is gone and its stdout drained (every acknowledgement it printed has been read).
    const closed = new Promise<void>((resolve) => child.once("close", () => resolve()))
    await eventually("movements journaled by the game process", () => (acked.length >= 400 ? true : undefined), { timeoutMs: 60_000, intervalMs: 5 })
    child.kill("SIGKILL")
    await closed
    assert.strictEqual(stderr, "", "the writer failed on its own")
    const ackedKeys = new Set(acked)

    const journaled = readJournalDir(journalDir).map((e) => e.movement.key)
    const journaledKeys = new Set(journaled)
    assert.strictEqual(journaledKeys.size, journaled.length, "no movement written twice")
    for (const k of ackedKeys) assert.isTrue(journaledKeys.has(k), `acknowledged ${k} is in the journal`)
    const extra = [...journaledKeys].filter((k) => !ackedKeys.has(k))
    assert.isAtMost(extra.length, 1, "only the movement in flight at the kill may be journaled without its acknowledgement")
    const raw = readFileSync(join(journalDir, JOURNAL_FILE), "utf8")

    // The restart: a new game process opens the same journal with the service up, and is killed in the middle of the replay.
    const client = h.client()
    for (let p = 0; p < PLAYERS; p++) await client.checked("EnsureAccount", { account_id: `${PREFIX}-p${p}`, initial_balance: WALLET })
    const appliedLines = () => (readFileSync(join(journalDir, JOURNAL_FILE), "utf8").match(/"t":"applied"/g) ?? []).length
    const replayer = spawn(nodeBinary(), ["test/client/support/journalWriter.ts", "replay", journalDir, h.address], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] })
    registerChild(replayer)
    let replayerOut = ""
    replayer.stdout!.setEncoding("utf8").on("data", (c: string) => void (replayerOut += c))
    replayer.stderr!.setEncoding("utf8").on("data", (c: string) => void (replayerOut += c))
    const replayerClosed = new Promise<void>((resolve) => replayer.once("close", () => resolve()))
    await eventually("part of the journal replayed", () => (appliedLines() >= 50 ? true : undefined), { timeoutMs: 60_000, intervalMs: 2 })
    replayer.kill("SIGKILL")
    await replayerClosed
    const appliedAtKill = appliedLines()
    assert.isBelow(appliedAtKill, journaled.length, `the replaying process was killed mid-replay (output: ${replayerOut})`)

    // Restarted again: the rest is replayed; what was applied but not yet marked is answered from its key, not applied again.
    const game = new GameBalance({ client, mode: "enforce", journalDir, replayIntervalMs: 3_600_000, logger: () => {} })
    assert.strictEqual(game.stats().journal.pending, journaled.length - appliedAtKill)
    const pass = await game.replayPending()
    assert.deepStrictEqual(pass, { applied: journaled.length - appliedAtKill, refused: 0, remaining: 0 })
    await game.close()
    // A second restart replays nothing: the outcomes were journaled too.
    const again = new GameBalance({ client, mode: "enforce", journalDir, replayIntervalMs: 3_600_000, logger: () => {} })
    assert.strictEqual(again.stats().journal.pending, 0)
    await again.close()

    const expected: Record<string, number> = {}
    for (let p = 0; p < PLAYERS; p++) expected[`wallet:${PREFIX}-p${p}`] = WALLET
    for (const k of journaledKeys) {
      const i = Number(k.slice(`${PREFIX}-k`.length))
      const stack = `stack:${PREFIX}-t${i % TABLES}:${PREFIX}-p${i % PLAYERS}`
      expected[stack] = (expected[stack] ?? 0) + 10
      expected[`wallet:${PREFIX}-p${i % PLAYERS}`]! -= 10
    }
    const tables = Array.from({ length: TABLES }, (_, t) => `${PREFIX}-t${t}`)
    const accounts = Array.from({ length: PLAYERS }, (_, p) => `${PREFIX}-p${p}`)
    const books = await booksOf(client, accounts, tables)
    for (const [k, v] of Object.entries(books)) assert.strictEqual(v, expected[k] ?? 0, k)
    console.log(
      `[client journal crash] ${acked.length} acknowledged, ${journaled.length} journaled at the kill (${extra.length} unacknowledged in flight), ` +
        `journal ended ${raw.endsWith("\n") ? "on a whole line" : "in a torn line (cut on open)"}; replay killed after ${appliedAtKill}, ` +
        `the rest (${pass.applied}) replayed by the next start; books match`
    )
  }, 120_000)
})

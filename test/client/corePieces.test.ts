import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, assert, describe, it } from "@effect/vitest"
import { buildReport, formatReport, GameBalance, JournalCorrupt, JournalLocked, readJournalDir, ReconciliationJournal } from "../../client/src/index.ts"
import { OUTCOME_UNKNOWN_PAST_KEY_TTL } from "../../client/src/game/GameBalance.ts"
import type { ClientLogger } from "../../client/src/telemetry.ts"
import { freePort } from "../../src/childProcess/serverChild.ts"
import { JOURNAL_FILE } from "../../client/src/game/ReconciliationJournal.ts"
import { jitteredBackoffMs } from "../../client/src/transport/backoff.ts"
import { CircuitBreaker } from "../../client/src/transport/CircuitBreaker.ts"
import { RetryBudget } from "../../client/src/transport/RetryBudget.ts"

/** The pure pieces of the client with a hand-driven clock: breaker, budget, back-off, journal file, report. */

const dirs: Array<string> = []
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), "balance-client-unit-"))
  dirs.push(d)
  return d
}

describe("CircuitBreaker", () => {
  it("opens at the threshold, stays open for openMs, lets exactly one trial through half-open", () => {
    let now = 0
    const states: Array<string> = []
    const b = new CircuitBreaker({ failureThreshold: 3, openMs: 1_000 }, (s) => states.push(s), () => now)
    b.onFailure()
    b.onFailure()
    b.onSuccess() // a success in between resets the count
    b.onFailure()
    b.onFailure()
    assert.strictEqual(b.current(), "closed")
    b.onFailure()
    assert.strictEqual(b.current(), "open")
    assert.isFalse(b.tryAcquire())
    now = 999
    assert.isFalse(b.tryAcquire())
    now = 1_000
    assert.isTrue(b.tryAcquire(), "the trial")
    assert.isFalse(b.tryAcquire(), "only one trial at a time")
    b.onFailure()
    assert.strictEqual(b.current(), "open")
    now = 2_000
    assert.isTrue(b.tryAcquire())
    b.onSuccess()
    assert.strictEqual(b.current(), "closed")
    assert.isTrue(b.tryAcquire())
    assert.deepStrictEqual(states, ["open", "half-open", "open", "half-open", "closed"])
  })
})

describe("RetryBudget", () => {
  it("allows min + ratio * calls retries over the window, and forgets old ones", () => {
    let now = 0
    const budget = new RetryBudget({ ratio: 0.5, minRetriesPerSecond: 0.1, windowMs: 10_000 }, () => now)
    for (let i = 0; i < 4; i++) budget.recordCall()
    // 0.1 * 10 + 0.5 * 4 = 3 retries.
    assert.deepStrictEqual([budget.tryRetry(), budget.tryRetry(), budget.tryRetry(), budget.tryRetry()], [true, true, true, false])
    now = 11_000
    assert.isTrue(budget.tryRetry(), "the window moved on")
  })

  it("back-off is full jitter under an exponential cap", () => {
    assert.strictEqual(jitteredBackoffMs(1, 50, 1_000, () => 0.999), 49)
    assert.strictEqual(jitteredBackoffMs(4, 50, 1_000, () => 0.999), 399)
    assert.strictEqual(jitteredBackoffMs(10, 50, 1_000, () => 0.999), 999)
    assert.strictEqual(jitteredBackoffMs(3, 50, 1_000, () => 0), 0)
  })
})

const buyIn = (key: string, tableId = "t1", accountId = "alice", amount = 100) => ({ kind: "buy-in" as const, tableId, accountId, amount, key })

describe("ReconciliationJournal", () => {
  it("keeps order, outcomes and the ordering barrier across reopen; cuts a torn last line; archives a settled journal", () => {
    const dir = tempDir()
    const j = ReconciliationJournal.open(dir)
    const a = j.append(buyIn("k1"), "unavailable")
    const b = j.append({ kind: "contribution", tableId: "t1", handId: "h1", seatId: 1, accountId: "alice", amount: 10, contributionType: "BET", key: "k2" }, "backlog")
    j.append(buyIn("k3", "t2", "bob"), "circuit-open")
    assert.isTrue(j.hasPendingFor(buyIn("x", "t1", "carol")), "same table")
    assert.isTrue(j.hasPendingFor(buyIn("x", "t9", "bob")), "same player, other table")
    assert.isFalse(j.hasPendingFor(buyIn("x", "t9", "carol")))
    j.markApplied(a.id, { transactionIds: ["tx"] })
    j.markRefused(b.id, "INSUFFICIENT_STACK", "short", "do something")
    j.close()
    // A crash in the middle of writing a line: the torn tail is cut off on open, the rest is intact.
    appendFileSync(join(dir, JOURNAL_FILE), '{"t":"movement","id":"torn","at":1,"cause":"unav')
    const reopened = ReconciliationJournal.open(dir)
    assert.deepStrictEqual(reopened.pending().map((e) => e.movement.key), ["k3"])
    assert.deepStrictEqual(reopened.all().map((e) => e.state), ["applied", "refused", "pending"])
    assert.isTrue(readFileSync(join(dir, JOURNAL_FILE), "utf8").endsWith("}\n"))
    assert.isTrue(reopened.retry(b.id), "a refused movement can be put back in line by the operator")
    assert.deepStrictEqual(reopened.pending().map((e) => e.movement.key), ["k2", "k3"])
    for (const e of reopened.pending()) reopened.markApplied(e.id, { transactionIds: [] })
    reopened.close()
    ReconciliationJournal.open(dir).close()
    assert.strictEqual(readdirSync(dir).filter((f) => /^journal-\d+\.jsonl$/.test(f)).length, 1, "archived once nothing was pending")
    assert.deepStrictEqual(readJournalDir(dir).map((e) => [e.movement.key, e.state]), [["k1", "applied"], ["k2", "applied"], ["k3", "applied"]])
  })

  it("an unreadable line that is not the last is damage: the open refuses and cuts nothing", () => {
    const dir = tempDir()
    const j = ReconciliationJournal.open(dir)
    j.append(buyIn("k1"), "unavailable")
    j.close()
    const path = join(dir, JOURNAL_FILE)
    const good = readFileSync(path, "utf8")
    writeFileSync(path, `${good}{"t":"movem\n${good}`)
    const damaged = readFileSync(path, "utf8")
    assert.throws(() => ReconciliationJournal.open(dir), JournalCorrupt)
    assert.strictEqual(readFileSync(path, "utf8"), damaged)
  })

  it("a settled journal past the size limit is archived and a new one started", () => {
    const dir = tempDir()
    const j = ReconciliationJournal.open(dir)
    const e = j.append(buyIn("k1"), "unavailable")
    assert.isFalse(j.rotateIfSettled(0), "something is pending")
    j.markApplied(e.id, { transactionIds: [] })
    assert.isFalse(j.rotateIfSettled(1 << 20), "still small")
    assert.isTrue(j.rotateIfSettled(0))
    j.append(buyIn("k2"), "backlog")
    j.close()
    assert.deepStrictEqual(readJournalDir(dir).map((x) => [x.movement.key, x.state]), [["k1", "applied"], ["k2", "pending"]])
  })

  it("a refused movement stays retryable after its journal was archived (at open, by size): the retry finds it there; the report lists it once", () => {
    const dir = tempDir()
    const archives = () => readdirSync(dir).filter((f) => /^journal-\d+\.jsonl$/.test(f)).length
    const j = ReconciliationJournal.open(dir)
    const a = j.append(buyIn("k1"), "unavailable")
    const b = j.append(buyIn("k2", "t2", "bob"), "backlog")
    j.markApplied(a.id, { transactionIds: ["tx"] })
    j.markRefused(b.id, "INSUFFICIENT_BALANCE", "short", "deposit, then retry")
    j.close()
    // Nothing pending: a game restart archives the file, the refusal with it.
    const reopened = ReconciliationJournal.open(dir)
    assert.strictEqual(archives(), 1)
    assert.deepStrictEqual(reopened.all(), [])
    assert.isFalse(reopened.retry("no-such-entry"))
    assert.isTrue(reopened.retry(b.id), "the operator's retry finds it in the archive")
    assert.deepStrictEqual(reopened.pending().map((e) => [e.id, e.movement.key]), [[b.id, "k2"]])
    assert.deepStrictEqual(readJournalDir(dir).map((e) => [e.movement.key, e.state]), [["k1", "applied"], ["k2", "pending"]])
    reopened.markRefused(b.id, "INSUFFICIENT_BALANCE", "still short", "deposit, then retry")
    // Archived again, by size this time: still retryable.
    assert.isTrue(reopened.rotateIfSettled(0))
    assert.strictEqual(archives(), 2)
    assert.isTrue(reopened.retry(b.id))
    reopened.markApplied(b.id, { transactionIds: ["tx2"] })
    assert.isFalse(reopened.retry(b.id), "applied: nothing to retry")
    reopened.close()
    assert.deepStrictEqual(readJournalDir(dir).map((e) => [e.movement.key, e.state]), [["k1", "applied"], ["k2", "applied"]])
  })

  it("one process per journal directory: a live holder is refused, a dead one's lock is taken over", () => {
    const dir = tempDir()
    writeFileSync(join(dir, "journal.lock"), `${process.ppid}\n`)
    assert.throws(() => ReconciliationJournal.open(dir), JournalLocked)
    writeFileSync(join(dir, "journal.lock"), "999999999\n")
    const mine = ReconciliationJournal.open(dir)
    assert.throws(() => ReconciliationJournal.open(dir), JournalLocked, undefined, "nor twice in one process")
    mine.close()
    ReconciliationJournal.open(dir).close()
  })
})

/** An enforce-mode game whose service address nobody listens on (one attempt per call, no replay timer). */
const gameWithNoService = async (journalDir: string, logger: ClientLogger = () => {}) =>
  new GameBalance({
    client: { addresses: [`127.0.0.1:${await freePort()}`], healthCheck: false, retry: { maxAttempts: 1 } },
    mode: "enforce",
    journalDir,
    replayIntervalMs: 3_600_000,
    logger
  })

describe("the game's logger", () => {
  it("a logger that throws cannot turn a movement permitted offline (journaled) into an exception", async () => {
    const game = await gameWithNoService(tempDir(), () => {
      throw new Error("the game's logger is broken")
    })
    try {
      const d = await game.buyIn({ tableId: "t1", accountId: "alice", amount: 100, key: "k-logger" })
      assert.strictEqual(d.decision, "permitted-offline")
      assert.deepStrictEqual(game.journalEntries().map((e) => [e.movement.key, e.state]), [["k-logger", "pending"]])
    } finally {
      await game.close()
    }
  })
})

describe("replay of movements older than the service's idempotency TTL", () => {
  it("a movement whose call may have landed is handed to the operator, not replayed blindly; one never sent is replayed", async () => {
    const dir = tempDir()
    const old = Date.now() - 2 * 86_400_000
    writeFileSync(join(dir, JOURNAL_FILE), [
      { t: "movement", id: "maybe-landed", at: old, cause: "unavailable", movement: buyIn("k-old-1") },
      { t: "movement", id: "never-sent", at: old, cause: "circuit-open", movement: buyIn("k-old-2", "t2", "bob") }
    ].map((l) => `${JSON.stringify(l)}\n`).join(""))
    const game = await gameWithNoService(dir)
    try {
      const pass = await game.replayPending()
      assert.strictEqual(pass.refused, 1)
      assert.strictEqual(pass.remaining, 1, "the one never sent is tried (and waits: nothing listens)")
      const refused = game.journalEntries().find((e) => e.id === "maybe-landed")!
      assert.strictEqual(refused.refusal?.code, OUTCOME_UNKNOWN_PAST_KEY_TTL)
      assert.include(refused.refusal?.advice, "k-old-1")
      // The operator checked the service's ledger: absent. Retried, it is sent this time (and waits for the service like the other).
      assert.isTrue(game.retryRefused("maybe-landed"))
      const again = await game.replayPending()
      assert.deepStrictEqual([again.refused, again.remaining], [0, 2])
    } finally {
      await game.close()
    }
  })
})

describe("reconciliation report", () => {
  it("per table and player: permitted offline, applied, refused, pending, with every refusal and its advice", () => {
    const dir = tempDir()
    const j = ReconciliationJournal.open(dir)
    const a = j.append(buyIn("k1", "t1", "alice", 100), "unavailable")
    const b = j.append(buyIn("k2", "t1", "bob", 500), "unavailable")
    j.append({ kind: "settle", tableId: "t1", handId: "h1", winners: [{ seatId: 1, accountId: "alice", amount: 30 }], key: "k3" }, "backlog")
    j.markApplied(a.id, { transactionIds: [] })
    j.markRefused(b.id, "INSUFFICIENT_BALANCE", "available 100", "recover the chips")
    j.close()
    const report = buildReport(readJournalDir(dir))
    assert.deepStrictEqual(report.rows.map((r) => [r.tableId, r.accountId, r.permittedOffline.count, r.applied.chips, r.refused.chips, r.pending.chips]), [
      ["t1", "alice", 2, 100, 0, 30],
      ["t1", "bob", 1, 0, 500, 0]
    ])
    assert.deepStrictEqual([report.totals.permittedOffline.chips, report.totals.applied.chips, report.totals.refused.chips], [630, 100, 500])
    const text = formatReport(report)
    assert.include(text, "REFUSED ON REPLAY (1)")
    assert.include(text, `${b.id} buy-in table=t1 key=k2 chips=500: INSUFFICIENT_BALANCE`)
    assert.include(text, "what to do: recover the chips")
  })
})

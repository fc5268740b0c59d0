import { assert, describe, it } from "@effect/vitest"
import { GameBalance } from "../../client/src/index.ts"
import type { ClientLogger } from "../../client/src/telemetry.ts"
import { eventually } from "../support/eventually.ts"
import { booksOf, useServiceHarness } from "./support/serviceHarness.ts"
import { FAST_FAIL } from "./support/settings.ts"

/**
 * Shadow (dual-write) mode against the real service: the game's legacy logic
 * decides; the mirror never makes the game wait or fail, not even when the
 * service hangs (SIGSTOP) or is dead, and every disagreement is recorded.
 */

const harness = useServiceHarness()

/** A shadow-mode game on the harness' service, with `accountId` holding 1,000 chips. */
const shadowGame = async (accountId: string, journal: string, logger: ClientLogger = () => {}) => {
  const h = harness()
  const client = h.client(FAST_FAIL)
  await client.checked("EnsureAccount", { account_id: accountId, initial_balance: 1_000 })
  return { h, client, game: new GameBalance({ client, mode: "shadow", journalDir: h.tempDir(journal), logger }) }
}

/** Switches to enforce and bets `amount` in hand h1 at seat 1: the service applies it. */
const betAppliedAfterSwitch = async (game: GameBalance, accountId: string, tableId: string, amount: number) => {
  game.setMode("enforce")
  const bet = await game.contribute({ tableId, handId: "h1", seatId: 1, accountId, amount, type: "BET" })
  assert.strictEqual(bet.decision, "applied", JSON.stringify(bet))
}

describe("shadow mode", () => {
  it("mirrors every movement, and records refusals and stack mismatches as divergences without changing the game's decision", async () => {
    const h = harness()
    const client = h.client(FAST_FAIL)
    await client.checked("EnsureAccount", { account_id: "sh-a", initial_balance: 1_000 })
    await client.checked("EnsureAccount", { account_id: "sh-poor", initial_balance: 50 })
    const game = new GameBalance({ client, mode: "shadow", journalDir: h.tempDir("shadow"), logger: () => {} })
    const decisions = [
      await game.buyIn({ tableId: "sh-t", accountId: "sh-a", amount: 300 }, { stackAfter: 300 }),
      // The legacy game seats a player the wallet cannot cover (its free-chip logic): the service refuses.
      await game.buyIn({ tableId: "sh-t", accountId: "sh-poor", amount: 500 }, { stackAfter: 500 }),
      await game.contribute({ tableId: "sh-t", handId: "h1", seatId: 1, accountId: "sh-a", amount: 20, type: "BLIND" }, { stackAfter: 280 }),
      // The game's own count is off by 5: a stack mismatch.
      await game.contribute({ tableId: "sh-t", handId: "h1", seatId: 1, accountId: "sh-a", amount: 30, type: "BET" }, { stackAfter: 255 }),
      // A top-up the game counts as 10 more than it is (the commit answers no stack: the mirror reads it).
      await game.buyIn({ tableId: "sh-t", accountId: "sh-a", amount: 100 }, { stackAfter: 360 })
    ]
    assert.deepStrictEqual(decisions.map((d) => d.decision), ["legacy", "legacy", "legacy", "legacy", "legacy"])
    await game.shadow.idle()
    const stats = game.stats()
    assert.strictEqual(stats.shadow.mirrored, 4)
    assert.strictEqual(stats.shadow.divergences.refused, 1)
    assert.strictEqual(stats.shadow.divergences["stack-mismatch"], 2)
    assert.deepStrictEqual(game.divergences().map((d) => [d.kind, d.movement.kind]), [["refused", "buy-in"], ["stack-mismatch", "contribution"], ["stack-mismatch", "buy-in"]])
    assert.match(game.divergences()[0]!.detail, /INSUFFICIENT_BALANCE/)
    assert.strictEqual(game.divergences()[2]!.detail, "game 360, service 350")
    assert.deepStrictEqual(await booksOf(client, ["sh-a", "sh-poor"], ["sh-t"]), {
      "wallet:sh-a": 600,
      "stack:sh-t:sh-a": 350,
      "wallet:sh-poor": 50,
      "stack:sh-t:sh-poor": 0
    })
    await game.close()
  }, 60_000)

  it("a switch to enforce keeps the order: an enforced bet waits for the buy-in mirrored just before it", async () => {
    const { client, game } = await shadowGame("sh-c", "shadow-switch")
    assert.strictEqual((await game.buyIn({ tableId: "sh-t3", accountId: "sh-c", amount: 500 }, { stackAfter: 500 })).decision, "legacy")
    assert.isAtLeast(game.shadow.pending(), 1, "the buy-in is still being mirrored")
    await betAppliedAfterSwitch(game, "sh-c", "sh-t3", 20)
    assert.deepStrictEqual(await booksOf(client, ["sh-c"], ["sh-t3"]), { "wallet:sh-c": 500, "stack:sh-t3:sh-c": 480 })
    await game.close()
  }, 60_000)

  it("a game logger that throws does not stop the mirror: the movements behind a divergence are mirrored, and an enforced one after the switch goes through", async () => {
    const { client, game } = await shadowGame("sh-d", "shadow-throwing-log", (level) => {
      if (level === "warn") throw new Error("the game's logger is broken")
    })
    // Refused by the service (no such wallet): a divergence, logged at warn: the logger throws.
    await game.buyIn({ tableId: "sh-t4", accountId: "sh-nobody", amount: 100 })
    await game.buyIn({ tableId: "sh-t4", accountId: "sh-d", amount: 300 })
    await betAppliedAfterSwitch(game, "sh-d", "sh-t4", 10)
    assert.strictEqual(game.stats().shadow.divergences.refused, 1)
    assert.deepStrictEqual(await booksOf(client, ["sh-d"], ["sh-t4"]), { "wallet:sh-d": 700, "stack:sh-t4:sh-d": 290 })
    await game.close()
  }, 60_000)

  it("never blocks or throws into the game while the service hangs or is dead: the mirror's failures are divergences", async () => {
    const { h, game } = await shadowGame("sh-b", "shadow-down")
    const service = h.service()!
    service.child.kill("SIGSTOP")
    try {
      // Each call returns before the mirror has even had an answer: the first mirrored call is still waiting on the hung service.
      for (let i = 0; i < 5; i++) {
        const d = await game.buyIn({ tableId: "sh-t2", accountId: "sh-b", amount: 10 })
        assert.strictEqual(d.decision, "legacy")
        assert.isAtLeast(game.shadow.pending(), 1, "the mirror is still waiting for the hung service")
      }
    } finally {
      service.child.kill("SIGCONT")
    }
    await h.kill9()
    for (let i = 0; i < 5; i++) {
      const d = await game.contribute({ tableId: "sh-t2", handId: "h1", seatId: 1, accountId: "sh-b", amount: 1, type: "BET" })
      assert.strictEqual(d.decision, "legacy")
    }
    await eventually("the mirror gave up on the dead service", () => (game.shadow.pending() === 0 ? true : undefined), { timeoutMs: 60_000 })
    const stats = game.stats()
    assert.isAtLeast(stats.shadow.divergences.unavailable, 5, "at least the movements sent while the service was dead")
    assert.strictEqual(stats.journal.pending, 0, "shadow mode journals nothing: the game's own logic decided")
    await game.close()
    await h.start()
  }, 90_000)
})

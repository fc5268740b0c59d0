import { assert, describe, it } from "@effect/vitest"
import { BalanceUnavailable, type ClientEvent } from "../../client/src/index.ts"
import { mapLimit } from "../chaos/support/poll.ts"
import { eventually } from "../support/eventually.ts"
import { useServiceHarness } from "./support/serviceHarness.ts"
import { RIDE_THROUGH } from "./support/settings.ts"

/**
 * The call core against the real service: kill -9 of the service while calls
 * are in flight, and its circuit breaker.
 */

const harness = useServiceHarness()

describe("retries through a kill -9 of the service", () => {
  it("every movement in flight at the kill is applied exactly once, with the key the client generated", async () => {
    const h = harness()
    const events: Array<ClientEvent> = []
    const client = h.client({ ...RIDE_THROUGH, telemetry: { startSpan: () => ({ setAttribute: () => {}, addEvent: () => {}, end: () => {}, propagationHeaders: () => ({}) }), onEvent: (e) => void events.push(e) } })
    const PLAYERS = 4
    const CONTRIBUTIONS = 120
    const table = "kill-t"
    for (let p = 0; p < PLAYERS; p++) {
      await client.checked("EnsureAccount", { account_id: `kill-p${p}`, initial_balance: 10_000 })
      const hold = await client.checked("ReserveForBuyIn", { account_id: `kill-p${p}`, table_id: table, amount: 5_000 })
      await client.checked("CommitReservation", { reservation_id: hold.reservation_id })
    }
    let acked = 0
    let killed = false
    const killing = eventually("calls acknowledged before the kill", () => (acked >= 60 ? true : undefined), { timeoutMs: 30_000, intervalMs: 1 })
      .then(async () => {
        await h.kill9()
        killed = true
        await h.start()
      })
    // Each player bets 1 chip at a time into its own hand; no idempotency key given: the client makes one per call.
    const answers = await mapLimit(Array.from({ length: PLAYERS * CONTRIBUTIONS }, (_, i) => i), PLAYERS * 2, async (i) => {
      const p = i % PLAYERS
      const r = await client.checked("RecordContribution", {
        table_id: table,
        hand_id: `kill-h${p}`,
        seat_id: p + 1,
        account_id: `kill-p${p}`,
        amount: 1,
        contribution_type: "BET"
      })
      acked++
      return r
    })
    await killing
    assert.isTrue(killed)
    assert.strictEqual(answers.length, PLAYERS * CONTRIBUTIONS)
    assert.isTrue(answers.every((a) => a.ok))
    const retried = events.filter((e) => e.type === "retry")
    assert.isAbove(retried.length, 0, "some calls were in flight or sent while the service was down")
    for (let p = 0; p < PLAYERS; p++) {
      const stack = await client.checked("GetTableStack", { table_id: table, account_id: `kill-p${p}` })
      const pot = await client.checked("GetPot", { table_id: table, hand_id: `kill-h${p}` })
      assert.strictEqual(Number(stack.balance), 5_000 - CONTRIBUTIONS, `stack of kill-p${p}`)
      assert.strictEqual(Number(pot.balance), CONTRIBUTIONS, `pot of kill-h${p}`)
    }
    // Transaction ids are unique: no two calls were answered with one movement, none was applied twice.
    assert.strictEqual(new Set(answers.map((a) => a.transaction_id)).size, answers.length)
    console.log(`[client kill -9] ${answers.length} contributions, ${retried.length} retried attempts, each applied once`)
  }, 120_000)
})

describe("circuit breaker", () => {
  it("opens after consecutive transport failures, fails fast while open, lets one trial through, and closes when the service answers", async () => {
    const h = harness()
    const states: Array<string> = []
    const client = h.client({
      attemptTimeoutMs: 500,
      callTimeoutMs: 1_000,
      retry: { maxAttempts: 1 },
      breaker: { failureThreshold: 3, openMs: 800 },
      telemetry: { startSpan: () => ({ setAttribute: () => {}, addEvent: () => {}, end: () => {}, propagationHeaders: () => ({}) }), onEvent: (e) => void (e.type === "breaker" && states.push(e.state)) }
    })
    const breaker = client.transport.breaker
    await client.checked("GetBalance", { account_id: "breaker-a" })
    await h.kill9()
    const failure = (p: Promise<unknown>) => p.then(() => assert.fail("the call should have failed"), (e: unknown) => e as BalanceUnavailable)
    for (let i = 0; i < 3; i++) {
      const e = await failure(client.call("GetBalance", { account_id: "breaker-a" }))
      assert.instanceOf(e, BalanceUnavailable)
      assert.strictEqual(e.reason, "transport")
      assert.strictEqual(e.attempts, 1)
    }
    assert.strictEqual(breaker.current(), "open")
    const fast = await failure(client.call("GetBalance", { account_id: "breaker-a" }))
    assert.strictEqual(fast.reason, "circuit-open")
    assert.strictEqual(fast.attempts, 0, "no attempt while open")

    // Half-open with the service still down: the trial fails and the circuit opens again.
    await eventually("half-open", () => (breaker.current() === "half-open" ? true : undefined), { timeoutMs: 5_000, intervalMs: 20 })
    const trial = await failure(client.call("GetBalance", { account_id: "breaker-a" }))
    assert.strictEqual(trial.reason, "transport")
    assert.strictEqual(breaker.current(), "open")

    await h.start()
    await client.transport.waitForReady(10_000)
    await eventually("half-open again", () => (breaker.current() === "half-open" ? true : undefined), { timeoutMs: 5_000, intervalMs: 20 })
    const ok = await client.call("GetBalance", { account_id: "breaker-a" })
    assert.strictEqual(ok.account_id, "breaker-a")
    assert.strictEqual(breaker.current(), "closed")
    assert.deepStrictEqual(states, ["open", "half-open", "open", "half-open", "closed"])
  }, 90_000)
})

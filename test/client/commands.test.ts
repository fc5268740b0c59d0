import { assert, describe, it } from "@effect/vitest"
import { ADMIN_KEY } from "../chaos/support/serviceProcess.ts"
import { npmRun } from "../support/npmRun.ts"
import { useServiceHarness } from "./support/serviceHarness.ts"

/** A stack frame ("    at f (file:line)") anywhere in what was printed. */
const STACK_FRAME = /\n\s+at \S/

describe("the client's commands as documented (balance-table-sim, balance-reconcile)", () => {
  const harness = useServiceHarness()

  it("the simulator seeds wallets with the operator's key from ADMIN_API_KEY (no --admin-metadata) and plays; without any key: one line saying what to give, exit 1", async () => {
    const h = harness()
    const journalDir = h.tempDir("sim")
    const flags = ["--address", h.address, "--mode", "enforce", "--journal-dir", journalDir, "--tables", "1", "--players", "2", "--hands", "2", "--seed-wallets", "1000", "--report"]
    const played = await npmRun("client:sim", flags, { ADMIN_API_KEY: ADMIN_KEY })
    assert.deepStrictEqual([played.code, played.stderr], [0, ""])
    assert.include(played.stdout, "wallets seeded with 1000 chips each")
    assert.match(played.stdout, /game over: 2 hands played/)

    const emptyDataDir = h.tempDir("no-key")
    const refused = await npmRun("client:sim", flags, { DATA_DIR: emptyDataDir })
    assert.strictEqual(refused.code, 1)
    assert.include(refused.stderr, "balance-table-sim: EnsureAccount failed with gRPC status 16")
    assert.include(refused.stderr, "--admin-metadata x-admin-key=<ADMIN_API_KEY>")
    assert.notMatch(refused.stderr, STACK_FRAME)
  }, 120_000)

  it("bad flags: one line naming the flag, exit 2, no stack trace", async () => {
    for (const args of [["--tables", "abc"], ["--hands", "1.5"], ["--mode", "sometimes"], ["--bogus"]]) {
      const run = await npmRun("client:sim", args, {})
      assert.deepStrictEqual([args, run.code], [args, 2])
      assert.match(run.stderr, /^balance-table-sim: .*(--tables|--hands|--mode|--bogus)/)
      assert.notMatch(run.stderr, STACK_FRAME)
    }
  }, 60_000)

  it("balance-reconcile on a directory holding no journal refuses (exit 2) instead of an all-clear report", async () => {
    const h = harness()
    for (const dir of ["/nonexistent/balance-journal", h.tempDir("empty")]) {
      const run = await npmRun("client:reconcile", ["report", dir], {})
      assert.deepStrictEqual([dir, run.code, run.stdout], [dir, 2, ""])
      assert.include(run.stderr, `no reconciliation journal`)
      assert.include(run.stderr, dir)
    }
    const replay = await npmRun("client:reconcile", ["replay", "/nonexistent/balance-journal", "--address", h.address], {})
    assert.strictEqual(replay.code, 2)
  }, 60_000)
})

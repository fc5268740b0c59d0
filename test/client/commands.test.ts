import { describe, expect, it } from "@effect/vitest"
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
    expect([played.code, played.stderr]).toEqual([0, ""])
    expect(played.stdout).toContain("wallets seeded with 1000 chips each")
    expect(played.stdout).toMatch(/game over: 2 hands played/)

    const emptyDataDir = h.tempDir("no-key")
    const refused = await npmRun("client:sim", flags, { DATA_DIR: emptyDataDir })
    expect(refused.code).toBe(1)
    expect(refused.stderr).toContain("balance-table-sim: EnsureAccount failed with gRPC status 16")
    expect(refused.stderr).toContain("--admin-metadata x-admin-key=<ADMIN_API_KEY>")
    expect(refused.stderr).not.toMatch(STACK_FRAME)
  }, 120_000)

  it("bad flags: one line naming the flag, exit 2, no stack trace", async () => {
    for (const args of [["--tables", "abc"], ["--hands", "1.5"], ["--mode", "sometimes"], ["--bogus"]]) {
      const run = await npmRun("client:sim", args, {})
      expect([args, run.code]).toEqual([args, 2])
      expect(run.stderr).toMatch(/^balance-table-sim: .*(--tables|--hands|--mode|--bogus)/)
      expect(run.stderr).not.toMatch(STACK_FRAME)
    }
  }, 60_000)

  it("balance-reconcile on a directory holding no journal refuses (exit 2) instead of an all-clear report", async () => {
    const h = harness()
    for (const dir of ["/nonexistent/balance-journal", h.tempDir("empty")]) {
      const run = await npmRun("client:reconcile", ["report", dir], {})
      expect([dir, run.code, run.stdout]).toEqual([dir, 2, ""])
      expect(run.stderr).toContain(`no reconciliation journal`)
      expect(run.stderr).toContain(dir)
    }
    const replay = await npmRun("client:reconcile", ["replay", "/nonexistent/balance-journal", "--address", h.address], {})
    expect(replay.code).toBe(2)
  }, 60_000)
})

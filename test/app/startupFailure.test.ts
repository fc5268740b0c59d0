import { describe, expect, it } from "@effect/vitest"
import { spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { nodeBinary } from "../chaos/support/serviceProcess.ts"
import { registerChild } from "../support/children.ts"

const ROOT = fileURLToPath(new URL("../../", import.meta.url))

/**
 * Runs `node src/main.ts` on the memory store, free ports and a temp DATA_DIR, plus `env`, until it
 * exits on its own (every case here fails at start).
 */
const runMain = async (env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> => {
  const dataDir = mkdtempSync(join(tmpdir(), "startup-failure-"))
  try {
    return await new Promise((resolve) => {
      const child = spawn(nodeBinary(), ["src/main.ts"], {
        cwd: ROOT,
        env: {
          PATH: process.env.PATH ?? "",
          BALANCE_STORE: "memory",
          DATA_DIR: dataDir,
          HOST: "127.0.0.1",
          HTTP_PORT: "0",
          GRPC_PORT: "0",
          METRICS_PORT: "0",
          ...env
        },
        stdio: ["ignore", "pipe", "pipe"]
      })
      registerChild(child)
      let stdout = ""
      let stderr = ""
      child.stdout!.on("data", (c: Buffer) => stdout += c.toString())
      child.stderr!.on("data", (c: Buffer) => stderr += c.toString())
      child.once("exit", (code) => resolve({ code, stdout, stderr }))
    })
  } finally {
    rmSync(dataDir, { recursive: true, force: true })
  }
}

describe("start-up failures", () => {
  it("a bad LOG_LEVEL (the logger itself cannot start) exits 1 and says why on stderr", async () => {
    const { code, stderr } = await runMain({ LOG_LEVEL: "verbose" })
    expect(code).toBe(1)
    expect(stderr).toContain("balance-service failed to start")
    expect(stderr).toContain("LOG_LEVEL must be one of")
  }, 60_000)

  it("a bad setting read after the logger started is logged as one JSON fatal line naming the variable, exit 1", async () => {
    const { code, stdout, stderr } = await runMain({ RESERVATION_TIMEOUT_MS: "-5" })
    expect(code).toBe(1)
    const fatal = stdout.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l)).find((l) => l.level === "FATAL")
    expect(fatal?.message).toBe("balance-service failed")
    expect(String(fatal?.cause)).toContain("RESERVATION_TIMEOUT_MS must be greater than 0")
    expect(stderr).not.toContain("failed to start")
  }, 60_000)
})

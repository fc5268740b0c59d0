import { readFileSync, statSync } from "node:fs"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { eventually } from "../support/eventually.ts"
import { portOpen } from "../chaos/support/serviceProcess.ts"
import { spawnMain } from "./support/mainProcess.ts"

const readyStatus = (port: number) =>
  fetch(`http://127.0.0.1:${port}/api/ready`, { signal: AbortSignal.timeout(2_000) }).then((r) => r.status, () => undefined)

describe("a start of the service", () => {
  it("/api/ready answers 200 only once the gRPC and metrics ports accept connections too (3 starts)", async () => {
    for (let start = 0; start < 3; start++) {
      const main = await spawnMain()
      try {
        // Polled as fast as it answers, from the first moment HTTP accepts: the first 200 is the moment that matters.
        const seen = new Set<number>()
        await eventually("the first 200 from /api/ready", async () => {
          const status = await readyStatus(main.ports.http)
          if (status !== undefined) seen.add(status)
          return status === 200 ? true : undefined
        }, { timeoutMs: 60_000, intervalMs: 1 })
        const [grpc, metrics] = await Promise.all([portOpen(main.ports.grpc), portOpen(main.ports.metrics)])
        assert.deepStrictEqual({ start, grpc, metrics }, { start, grpc: true, metrics: true })
        assert.strictEqual([...seen].every((s) => s === 200 || s === 503), true)
      } finally {
        // A stop that does not exit 0 says what the service printed last.
        const code = await main.stop()
        assert.strictEqual(code, 0, `start ${start}: ${main.stdout().split("\n").slice(-12).join("\n")}\n${main.stderr()}`)
        main.cleanup()
      }
    }
  }, 180_000)

  it("a generated admin key goes to its 0600 file only; the log says where the file is, in JSON, never the key", async () => {
    const main = await spawnMain()
    try {
      await eventually("ready", async () => (await readyStatus(main.ports.http)) === 200 ? true : undefined, { timeoutMs: 60_000 })
      const file = join(main.dataDir, "admin-api-key")
      const key = readFileSync(file, "utf8").trim()
      assert.strictEqual(statSync(file).mode & 0o777, 0o600)
      assert.isAtLeast(key.length, 40)
      // Every line is JSON (no banner); the key is in none of them, nor on stderr.
      const lines = main.jsonLines()
      assert.notInclude(main.stdout(), key)
      assert.notInclude(main.stderr(), key)
      const told = lines.find((l) => l.adminKeyFile !== undefined)
      assert.strictEqual(told?.adminKeyFile, file)
      assert.strictEqual(told?.level, "INFO")
      // The key works: the file is the credential.
      const supply = await fetch(`http://127.0.0.1:${main.ports.http}/api/admin/supply`, { headers: { "x-admin-key": key } })
      assert.strictEqual(supply.status, 200)
    } finally {
      assert.strictEqual(await main.stop(), 0)
      main.cleanup()
    }
  }, 90_000)
})

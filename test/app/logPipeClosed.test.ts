import { assert, describe, it } from "@effect/vitest"
import { isAlive as alive } from "../../src/childProcess/serverChild.ts"
import { eventually } from "../support/eventually.ts"
import { spawnMain } from "./support/mainProcess.ts"

describe.skipIf(process.platform !== "linux")("the log pipe's reader goes away (npm start | jq, then jq dies)", () => {
  it("the service keeps serving, then stops cleanly on SIGTERM, its private redis-server with it", async () => {
    const main = await spawnMain({ BALANCE_STORE: "redis" })
    let redisPid: number | undefined
    try {
      const ready = `http://127.0.0.1:${main.ports.http}/api/ready`
      await eventually("ready", async () => {
        const r = await fetch(ready).catch(() => undefined)
        return r?.status === 200 ? true : undefined
      }, { timeoutMs: 60_000 })
      redisPid = main.jsonLines().find((l) => l.message === "local redis-server started")?.pid as number | undefined
      assert.isDefined(redisPid)

      // The reader of stdout closes its end: every log line from now on is a write to a broken pipe.
      main.child.stdout!.destroy()
      for (let i = 0; i < 5; i++) {
        assert.strictEqual((await fetch(ready)).status, 200) // each request writes an access-log line
        await new Promise((r) => setTimeout(r, 50))
      }
      assert.isNull(main.child.exitCode)

      assert.strictEqual(await main.stop(), 0)
      await eventually("the private redis-server to stop", async () => (alive(redisPid!) ? undefined : true), { timeoutMs: 10_000 })
      assert.notInclude(main.stderr(), "EPIPE")
    } finally {
      if (main.child.exitCode === null) main.child.kill("SIGKILL")
      if (redisPid !== undefined && alive(redisPid)) process.kill(redisPid, "SIGKILL")
      main.cleanup()
    }
  }, 90_000)
})

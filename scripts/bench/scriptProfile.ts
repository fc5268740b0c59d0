/**
 * `npm run bench -- --script-profile`: where Redis' time goes by script. INFO commandstats books
 * every script under `evalsha` (apply, events, trim, compact, retire, load ...), so this turns on
 * Redis' SLOWLOG for the measured window with a threshold of 0 (every command is logged with its
 * execution time and arguments; an EVALSHA's first argument is its script's SHA-1) and drains it
 * every second. Each script's time includes the commands it calls; those commands are also logged
 * on their own (listed by name, not by script).
 *
 * Logging every command costs Redis time itself (an entry per command, the inner ones too): the
 * profile's run is slower than a plain one, and its figures are for shares, not for the targets.
 * Execution time is the command's own; reading requests, writing replies and the AOF are outside it.
 */
import { createHash } from "node:crypto"
import { readdirSync } from "node:fs"
import { join } from "node:path"
import type { Redis } from "ioredis"
import { readLuaScript } from "../../src/store/redis/luaScripts.ts"
import { ROOT } from "./processes.ts"

export interface ScriptTime {
  readonly calls: number
  readonly usPerCall: number
  readonly usPerRpc: number
}

export interface ScriptProfile {
  /** Stops logging and answers per script (by file name) or command: calls and µs, per call and per RPC. */
  readonly stop: (rpcs: number) => Promise<Record<string, ScriptTime>>
}

type SlowlogEntry = [id: number, at: number, micros: number, args: Array<string>]

/** The SHA-1 Redis knows each script by: its source as the service loads it (includes spliced in). */
const scriptNames = (): ReadonlyMap<string, string> =>
  new Map(
    readdirSync(join(ROOT, "src/store/redis"))
      .filter((file) => file.endsWith(".lua"))
      .map((file) => [createHash("sha1").update(readLuaScript(file)).digest("hex"), file] as const)
  )

export const startScriptProfile = async (redis: Redis): Promise<ScriptProfile> => {
  const names = scriptNames()
  const totals = new Map<string, { calls: number; micros: number }>()
  const drain = async () => {
    // GET then RESET: entries logged between the two are lost, a few per second out of thousands.
    const entries = (await redis.slowlog("GET", -1)) as Array<SlowlogEntry>
    await redis.slowlog("RESET")
    for (const [, , micros, args] of entries) {
      const command = String(args[0]).toLowerCase()
      if (command === "slowlog") continue
      const name = command === "evalsha" || command === "eval"
        ? names.get(String(args[1])) ?? `${command} ${String(args[1]).slice(0, 12)}`
        : command
      const total = totals.get(name) ?? { calls: 0, micros: 0 }
      total.calls += 1
      total.micros += micros
      totals.set(name, total)
    }
  }
  const [, previousThreshold] = (await redis.config("GET", "slowlog-log-slower-than")) as [string, string]
  const [, previousLength] = (await redis.config("GET", "slowlog-max-len")) as [string, string]
  await redis.config("SET", "slowlog-max-len", "200000")
  await redis.slowlog("RESET")
  await redis.config("SET", "slowlog-log-slower-than", "0")
  let draining = Promise.resolve()
  const timer = setInterval(() => void (draining = draining.then(drain)), 1000)
  return {
    stop: async (rpcs) => {
      clearInterval(timer)
      await draining
      await redis.config("SET", "slowlog-log-slower-than", previousThreshold)
      await drain()
      await redis.config("SET", "slowlog-max-len", previousLength)
      return Object.fromEntries(
        [...totals].sort((a, b) => b[1].micros - a[1].micros).map(([name, t]) => [name, {
          calls: t.calls,
          usPerCall: Math.round((t.micros / t.calls) * 10) / 10,
          usPerRpc: rpcs === 0 ? 0 : Math.round((t.micros / rpcs) * 10) / 10
        }])
      )
    }
  }
}

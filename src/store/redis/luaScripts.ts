import { existsSync, readFileSync } from "node:fs"
import type { Redis } from "ioredis"

/**
 * The store's Lua scripts, registered with ioredis `defineCommand`: the first
 * call on a connection sends EVAL (which caches the script in Redis), later
 * calls EVALSHA, and a NOSCRIPT (SCRIPT FLUSH, failover to a fresh replica)
 * is answered by resending the script. All take a dynamic key count first.
 */
export interface ScriptCommands {
  balanceApply(numKeys: number, ...keysThenArgs: Array<string>): Promise<unknown>
  balanceLoad(numKeys: number, ...keysThenArgs: Array<string>): Promise<unknown>
  balanceTransfers(numKeys: number, ...keysThenArgs: Array<string>): Promise<unknown>
  balanceLease(numKeys: number, ...keysThenArgs: Array<string>): Promise<unknown>
  balanceLedger(numKeys: number, ...keysThenArgs: Array<string>): Promise<unknown>
  balanceTrim(numKeys: number, ...keysThenArgs: Array<string>): Promise<unknown>
}

export type ScriptedRedis = Redis & ScriptCommands

/**
 * tsc does not copy .lua files to dist/, so a built service also looks for
 * them in src/ (same depth: rootDir src, outDir dist).
 */
export const readLuaScript = (name: string): string => {
  const candidates = [new URL(`./${name}`, import.meta.url), new URL(`../../../src/store/redis/${name}`, import.meta.url)]
  for (const url of candidates) {
    if (existsSync(url)) return readFileSync(url, "utf8")
  }
  throw new Error(`Lua script ${name} not found (looked in ${candidates.map(String).join(", ")})`)
}

export const defineScripts = (redis: Redis): ScriptedRedis => {
  redis.defineCommand("balanceApply", { lua: readLuaScript("apply.lua") })
  redis.defineCommand("balanceLoad", { lua: readLuaScript("load.lua"), readOnly: true })
  redis.defineCommand("balanceTransfers", { lua: readLuaScript("transfers.lua"), readOnly: true })
  redis.defineCommand("balanceLease", { lua: readLuaScript("lease.lua") })
  redis.defineCommand("balanceLedger", { lua: readLuaScript("ledger.lua"), readOnly: true })
  redis.defineCommand("balanceTrim", { lua: readLuaScript("trim.lua") })
  return redis as ScriptedRedis
}

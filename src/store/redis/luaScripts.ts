import { createHash } from "node:crypto"
import { existsSync, readFileSync } from "node:fs"
import type { ChainableCommander, Redis } from "ioredis"
import { type ScriptCall, scriptCall, type ScriptLayout } from "./scriptLayout.ts"
import {
  applyLayout,
  compactLayout,
  eventsLayout,
  leaseLayout,
  ledgerLayout,
  loadLayout,
  retireLayout,
  transfersLayout,
  trimLayout
} from "./scriptLayouts.ts"

/**
 * tsc does not copy .lua files to dist/, so a built service also looks for
 * them in src/ (same depth: rootDir src, outDir dist).
 */
const readLuaFile = (name: string): string => {
  const candidates = [new URL(`./${name}`, import.meta.url), new URL(`../../../src/store/redis/${name}`, import.meta.url)]
  for (const url of candidates) {
    if (existsSync(url)) return readFileSync(url, "utf8")
  }
  throw new Error(`Lua script ${name} not found (looked in ${candidates.map(String).join(", ")})`)
}

/** `-- @include <file>.lua` on a line of its own: that file's text in its place (one level, no nesting). */
const INCLUDE = /^-- @include (\S+\.lua)$/gm

/**
 * A script's source as Redis runs it: the file with its includes spliced in (Redis has no
 * `require`; code two scripts share lives once, in the included file).
 */
export const readLuaScript = (name: string): string =>
  readLuaFile(name).replace(INCLUDE, (_, included: string) => {
    const text = readLuaFile(included)
    if (/^-- @include /m.test(text)) throw new Error(`${included}, included by ${name}, includes another file: one level only`)
    return text
  })

/** A store script: its layout (scriptLayouts.ts), its source and the SHA1 Redis caches it under. */
export interface LuaScript<In> {
  readonly layout: ScriptLayout<In>
  readonly source: string
  readonly sha: string
  /** KEYS and ARGV of one call (throws on input the layout cannot carry: a bug, not a Redis failure). */
  readonly call: (input: In) => ScriptCall
}

const luaScript = <In>(layout: ScriptLayout<In>): LuaScript<In> => {
  const source = readLuaScript(layout.script)
  return { layout, source, sha: createHash("sha1").update(source).digest("hex"), call: (input) => scriptCall(layout, input) }
}

/** Every script the store runs, each read once per process. */
export const luaScripts = {
  apply: luaScript(applyLayout),
  load: luaScript(loadLayout),
  ledger: luaScript(ledgerLayout),
  events: luaScript(eventsLayout),
  transfers: luaScript(transfersLayout),
  lease: luaScript(leaseLayout),
  trim: luaScript(trimLayout),
  compact: luaScript(compactLayout),
  retire: luaScript(retireLayout)
} as const

/** Redis does not hold the script (a new server, SCRIPT FLUSH, a failover to a fresh replica). */
export const isNoScript = (e: unknown): boolean => e instanceof Error && e.message.includes("NOSCRIPT")

/** Queues one call of `script` on a pipeline: by SHA, or with its source (which caches it). */
export const queueScript = <In>(
  pipeline: ChainableCommander,
  script: LuaScript<In>,
  call: ScriptCall,
  by: "sha" | "source"
): ChainableCommander =>
  by === "sha"
    ? pipeline.evalsha(script.sha, call.keys.length, ...call.keys, ...call.args)
    : pipeline.eval(script.source, call.keys.length, ...call.keys, ...call.args)

/**
 * Runs one call of `script`: EVALSHA, and EVAL (which caches it again) when Redis answers
 * NOSCRIPT. The one way the store runs its scripts; apply with WAIT pipelines the same two
 * steps through queueScript.
 */
export const runScript = <In>(redis: Redis, script: LuaScript<In>, call: ScriptCall): Promise<unknown> =>
  redis.evalsha(script.sha, call.keys.length, ...call.keys, ...call.args).catch((e: unknown) =>
    isNoScript(e) ? redis.eval(script.source, call.keys.length, ...call.keys, ...call.args) : Promise.reject(e)
  )

/**
 * `--preload-entries N`: puts N ledger entries into the store fast, through
 * the service's own code path minus gRPC: commands planned by the domain
 * planner (checksums, chains, versions exactly as the ledger makes them) and
 * written by the real apply.lua, pipelined. The service must be stopped
 * meanwhile (this is the only writer, so planning ahead of the replies is
 * safe); every reply is checked to be APPLIED.
 *
 * Half of the entries land on the wallets the next game run will use (long
 * histories on hot accounts), the other half on many other wallets (10 each:
 * a large player base).
 */
import { randomUUID } from "node:crypto"
import { Redis } from "ioredis"
import type { Versioned } from "../../src/domain/accounts.ts"
import type { Command } from "../../src/domain/commands.ts"
import { plan } from "../../src/domain/planner.ts"
import { fingerprint } from "../../src/domain/fingerprint.ts"
import { LedgerSettings } from "../../src/ledger/LedgerSettings.ts"
import { scriptCall } from "../../src/store/redis/scriptLayout.ts"
import { applyLayout, applyPlanLayout } from "../../src/store/redis/scriptLayouts.ts"
import { readLuaScript } from "../../src/store/redis/luaScripts.ts"
import { redisKeys } from "../../src/store/redis/redisKeys.ts"
import { INITIAL_BALANCE } from "./workloads.ts"

export interface SeedResult {
  readonly entries: number
  readonly applies: number
  readonly wallets: number
  readonly seconds: number
  readonly entriesPerSecond: number
}

const KEY_PREFIX = "balance:" // REDIS_KEY_PREFIX default, which the benchmarked service uses
const EVENTS_MAX_LEN = 100_000 // REDIS_EVENTS_MAXLEN default
const COLD_ENTRIES_PER_WALLET = 10
const BATCH = 500
const IN_FLIGHT = 4

/**
 * The commands, lazily: grants first (one entry each), then deposits round
 * robin; half of all entries on the hot wallets, half on cold ones.
 */
function* commands(entries: number, hotWallets: ReadonlyArray<string>, tag: string): Generator<Command> {
  const hotEntries = Math.floor(entries / 2)
  const coldEntries = entries - hotEntries
  const cold = Array.from({ length: Math.max(1, Math.floor(coldEntries / COLD_ENTRIES_PER_WALLET)) }, (_, i) => `${tag}-cold-${i}`)
  for (const accountId of [...hotWallets, ...cold]) {
    yield { op: "EnsureAccount", accountId, initialBalance: INITIAL_BALANCE }
  }
  let n = 0
  const deposits = function*(wallets: ReadonlyArray<string>, count: number): Generator<Command> {
    for (let i = 0; i < count; i++) {
      n += 1
      yield { op: "Deposit", accountId: wallets[i % wallets.length]!, amount: 1 + (n % 100), source: "SEED", idempotencyKey: `${tag}-seed-${n}` }
    }
  }
  if (hotWallets.length > 0) yield* deposits(hotWallets, hotEntries - hotWallets.length)
  yield* deposits(cold, coldEntries - cold.length)
}

export const seedEntries = async (options: {
  readonly redisUrl: string
  readonly entries: number
  readonly hotWallets: ReadonlyArray<string>
  readonly tag: string
  readonly log: (line: string) => void
}): Promise<SeedResult> => {
  const redis = new Redis(options.redisUrl, { lazyConnect: true, enableAutoPipelining: false })
  await redis.connect()
  const sha = String(await redis.script("LOAD", readLuaScript("apply.lua")))
  const keys = redisKeys(KEY_PREFIX)
  const { rules, idempotencyTtlMs } = LedgerSettings.defaults
  const state = new Map<string, Versioned>()
  const started = performance.now()
  let entries = 0
  let applies = 0
  const wallets = new Set<string>()
  const inFlight: Array<Promise<void>> = []
  let batch = redis.pipeline()
  let batchSize = 0
  let lastLog = started

  const flush = async () => {
    if (batchSize === 0) return
    const sent = batch.exec().then((replies) => {
      for (const [error, reply] of replies ?? []) {
        if (error) throw error
        if (!Array.isArray(reply) || !Array.isArray(reply[0]) || reply[0][0] !== "APPLIED") throw new Error(`seed apply: ${JSON.stringify(reply)}`)
      }
    })
    inFlight.push(sent)
    batch = redis.pipeline()
    batchSize = 0
    if (inFlight.length >= IN_FLIGHT) await inFlight.shift()
  }

  try {
    for (const command of commands(options.entries, options.hotWallets, options.tag)) {
      const now = Date.now()
      const outcome = plan(command, state, { now, newId: randomUUID, hmacKey: undefined }, rules)
      if (outcome._tag !== "Plan") throw new Error(`seed: ${command.op} ${JSON.stringify(outcome)}`)
      const p = outcome.plan
      for (const w of p.writes) state.set(w.key, { version: w.version, value: w.value })
      const clientKey = "idempotencyKey" in command ? command.idempotencyKey : undefined
      const planCall = scriptCall(applyPlanLayout, {
        request: {
          plan: p,
          responseJson: JSON.stringify(p.response),
          idempotency: clientKey === undefined
            ? null
            : { key: `${command.op}:${clientKey}`, fingerprint: fingerprint(command), ttlMs: idempotencyTtlMs }
        },
        keys,
        deadlineMs: 0,
        compactIdempotency: false
      })
      const { keys: k, args } = scriptCall(applyLayout, { keys, eventsMaxLen: EVENTS_MAX_LEN, plans: [planCall] })
      batch.evalsha(sha, k.length, ...k, ...args)
      batchSize += 1
      applies += 1
      entries += p.entries.length
      if ("accountId" in command) wallets.add(command.accountId)
      if (batchSize >= BATCH) await flush()
      if (performance.now() - lastLog > 10_000) {
        lastLog = performance.now()
        options.log(`  seeded ${entries} entries (${Math.round(entries / ((lastLog - started) / 1000))}/s)`)
      }
    }
    await flush()
    await Promise.all(inFlight)
  } finally {
    redis.disconnect()
  }
  const seconds = (performance.now() - started) / 1000
  return { entries, applies, wallets: wallets.size, seconds, entriesPerSecond: Math.round(entries / seconds) }
}

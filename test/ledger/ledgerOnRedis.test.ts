import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Effect, Layer, ManagedRuntime } from "effect"
import { TestClock } from "effect/testing"
import * as fc from "fast-check"
import { Redis } from "ioredis"
import { Ledger } from "../../src/ledger/Ledger.ts"
import { LedgerVerifier } from "../../src/ledger/LedgerVerifier.ts"
import { MemoryStore } from "../../src/store/memory/MemoryStore.ts"
import { redisKeys } from "../../src/store/redis/redisKeys.ts"
import { RedisStore } from "../../src/store/redis/RedisStore.ts"
import { counterIds, propertyParameters, runSequence, sequenceArbitrary } from "../support/commandSequences.ts"
import { ledgerOn } from "../support/ledgerLayers.ts"
import { startTestRedisServer, type TestRedisServer } from "../support/redisServer.ts"

let server: TestRedisServer
let admin: Redis
let prefixCounter = 0
const freshPrefix = () => `test${++prefixCounter}:`

beforeAll(async () => {
  server = await startTestRedisServer()
  admin = new Redis(server.url)
})
afterAll(async () => {
  admin.disconnect()
  await server.dispose()
})

const redisLedger = (keyPrefix: string, settings: Parameters<typeof ledgerOn>[1] = {}) =>
  // Generous deadlines: these tests are about correctness on a loaded CI machine, not about timeouts.
  ledgerOn(RedisStore.layer({ url: server.url, keyPrefix, retryAttempts: 5, commandTimeoutMs: 5_000 }), settings)

describe("ledger on real Redis", () => {
  it("the same random sequences give identical results on the memory store and on Redis", async () => {
    await fc.assert(
      fc.asyncProperty(sequenceArbitrary, async (steps) => {
        const onMemory = await Effect.runPromise(
          runSequence(steps).pipe(Effect.provide(Layer.mergeAll(ledgerOn(MemoryStore.layer, { newId: counterIds() }), TestClock.layer())))
        )
        const onRedis = await Effect.runPromise(
          runSequence(steps).pipe(Effect.provide(Layer.mergeAll(redisLedger(freshPrefix(), { newId: counterIds() }), TestClock.layer())))
        )
        assert.deepStrictEqual(onRedis, onMemory)
      }),
      propertyParameters(60)
    )
  })

  it("200 concurrent reserves on one wallet through two service instances never overdraw", async () => {
    const prefix = freshPrefix()
    const one = ManagedRuntime.make(redisLedger(prefix))
    const two = ManagedRuntime.make(redisLedger(prefix))
    try {
      await one.runPromise(Ledger.use((l) => l.execute({ op: "EnsureAccount", accountId: "whale", initialBalance: 1000 })))
      const attempts = Array.from({ length: 200 }, (_, i) =>
        (i % 2 === 0 ? one : two).runPromise(
          Ledger.use((l) =>
            l.execute({ op: "Reserve", accountId: "whale", tableId: `t${i}`, amount: 7, timeoutMs: 60_000, idempotencyKey: `k${i}` })
          ).pipe(
            Effect.map((r) => r.result.reservationId),
            Effect.catch((e) => Effect.succeed(e._tag === "Refusal" ? e.code : `${e._tag}: ${e.message}`))
          )
        )
      )
      const outcomes = await Promise.all(attempts)
      const ids = outcomes.filter((o) => o !== "INSUFFICIENT_BALANCE")
      assert.deepStrictEqual(ids.filter((o) => !/^[0-9a-f-]{36}$/.test(o)), [], "only reservations or INSUFFICIENT_BALANCE")
      assert.strictEqual(ids.length, 142) // floor(1000 / 7)
      assert.strictEqual(outcomes.length - ids.length, 58)
      const wallet = await one.runPromise(Ledger.use((l) => l.wallet("whale")))
      assert.strictEqual(wallet.value!.held, 142 * 7)
      let heldSum = 0
      for (const id of ids) {
        const r = await two.runPromise(Ledger.use((l) => l.reservation(id)))
        assert.strictEqual(r.value!.status, "HELD")
        heldSum += r.value!.amount
      }
      assert.strictEqual(heldSum, wallet.value!.held)
      const report = await one.runPromise(LedgerVerifier.use((v) => v.verifyAll()))
      assert.deepStrictEqual(report.findings, [])
    } finally {
      await one.dispose()
      await two.dispose()
    }
  })

  it("kill -9 of Redis after acknowledged writes loses none of them (AOF fsync always)", async () => {
    const prefix = freshPrefix()
    const rt = ManagedRuntime.make(redisLedger(prefix))
    const acknowledged: Array<{ key: string; balance: number }> = []
    try {
      await rt.runPromise(Ledger.use((l) => l.execute({ op: "EnsureAccount", accountId: "k9", initialBalance: 0 })))
      for (let i = 1; i <= 100; i++) {
        const r = await rt.runPromise(
          Ledger.use((l) => l.execute({ op: "Deposit", accountId: "k9", amount: i, source: "ADMIN", idempotencyKey: `dep-${i}` }))
        )
        acknowledged.push({ key: `dep-${i}`, balance: r.result.balance })
      }
    } finally {
      await rt.dispose()
    }
    await server.kill9()
    await server.restart()
    const after = ManagedRuntime.make(redisLedger(prefix))
    try {
      const wallet = await after.runPromise(Ledger.use((l) => l.wallet("k9")))
      assert.strictEqual(wallet.value!.balance, 5050)
      for (const [i, ack] of acknowledged.entries()) {
        const replay = await after.runPromise(
          Ledger.use((l) => l.execute({ op: "Deposit", accountId: "k9", amount: i + 1, source: "ADMIN", idempotencyKey: ack.key }))
        )
        assert.isTrue(replay.replayed)
        assert.strictEqual(replay.result.balance, ack.balance)
      }
      const report = await after.runPromise(LedgerVerifier.use((v) => v.verifyAll()))
      assert.deepStrictEqual(report.findings, [])
    } finally {
      await after.dispose()
    }
    admin.disconnect()
    admin = new Redis(server.url)
  })

  describe("tampering directly in Redis is reported by the verifier", () => {
    const setup = async (settings: Parameters<typeof ledgerOn>[1] = {}) => {
      const prefix = freshPrefix()
      const rt = ManagedRuntime.make(redisLedger(prefix, settings))
      await rt.runPromise(Effect.gen(function*() {
        const l = yield* Ledger
        yield* l.execute({ op: "EnsureAccount", accountId: "victim", initialBalance: 100 })
        for (let i = 0; i < 5; i++) yield* l.execute({ op: "Deposit", accountId: "victim", amount: 10, source: "ADMIN", idempotencyKey: `v${i}` })
      }))
      const clean = await rt.runPromise(LedgerVerifier.use((v) => v.verifyAll()))
      assert.isTrue(clean.ok)
      return { rt, keys: redisKeys(prefix) }
    }
    const findingsAfter = async (tamper: (keys: ReturnType<typeof redisKeys>) => Promise<unknown>, settings = {}) => {
      const { rt, keys } = await setup(settings)
      try {
        await tamper(keys)
        const report = await rt.runPromise(LedgerVerifier.use((v) => v.verifyAll()))
        assert.isFalse(report.ok)
        return report.findings
      } finally {
        await rt.dispose()
      }
    }
    const editEntry = (keys: ReturnType<typeof redisKeys>, index: number, edit: (e: Record<string, unknown>) => void) =>
      admin.lindex(keys.ledger("w:victim"), index).then((raw) => {
        const e = JSON.parse(raw!) as Record<string, unknown>
        edit(e)
        return admin.lset(keys.ledger("w:victim"), index, JSON.stringify(e))
      })

    it("an edited amount is found at its account and seq", async () => {
      const findings = await findingsAfter((keys) => editEntry(keys, 2, (e) => { e.amount = 1000; e.balanceAfter = 1110 }))
      assert.isTrue(findings.some((f) => f.account === "w:victim" && f.seq === 3 && f.kind === "BAD_CHECKSUM"))
    })
    it("a deleted entry is found", async () => {
      const findings = await findingsAfter(async (keys) => {
        const raw = await admin.lindex(keys.ledger("w:victim"), 3)
        await admin.lrem(keys.ledger("w:victim"), 1, raw!)
      })
      assert.isTrue(findings.some((f) => f.account === "w:victim" && f.kind === "SEQ_GAP"))
    })
    it("two swapped entries are found", async () => {
      const findings = await findingsAfter(async (keys) => {
        const [a, b] = await Promise.all([admin.lindex(keys.ledger("w:victim"), 1), admin.lindex(keys.ledger("w:victim"), 2)])
        await admin.lset(keys.ledger("w:victim"), 1, b!)
        await admin.lset(keys.ledger("w:victim"), 2, a!)
      })
      assert.isTrue(findings.some((f) => f.account === "w:victim" && f.seq === 3 && f.kind === "SEQ_GAP"))
    })
    it("a balance changed without an entry is found, and breaks the zero sum", async () => {
      const findings = await findingsAfter(async (keys) => {
        const raw = await admin.hget(keys.object("w:victim"), "d")
        const w = JSON.parse(raw!) as Record<string, unknown>
        w.balance = 1_000_000
        await admin.hset(keys.object("w:victim"), "d", JSON.stringify(w))
      })
      assert.isTrue(findings.some((f) => f.account === "w:victim" && f.kind === "HEAD_MISMATCH"))
      assert.isTrue(findings.some((f) => f.kind === "ZERO_SUM_VIOLATION"))
    })
    it("with an HMAC key, a recomputed plain SHA-256 chain does not pass", async () => {
      const findings = await findingsAfter(
        (keys) => editEntry(keys, 5, (e) => { e.metadata = { source: "FORGED" } }),
        { hmacKey: "secret" }
      )
      assert.isTrue(findings.some((f) => f.account === "w:victim" && f.seq === 6 && f.kind === "BAD_CHECKSUM"))
    })
    it("a truncated chain (last entries removed) is found when an HMAC key is set", async () => {
      const findings = await findingsAfter((keys) => admin.ltrim(keys.ledger("w:victim"), 0, 3), { hmacKey: "secret" })
      assert.isTrue(findings.some((f) => f.account === "w:victim" && f.kind === "HEAD_MISMATCH"))
    })
  })
})

import { assert, layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { SqlClient } from "effect/sql"
import { Redis } from "ioredis"
import { Archiver } from "../../src/archive/Archiver.ts"
import type { WalletState } from "../../src/domain/accounts.ts"
import type { Finding, FindingKind } from "../../src/domain/chainVerification.ts"
import type { LedgerEntry } from "../../src/domain/ledgerEntry.ts"
import { LedgerVerifier } from "../../src/ledger/LedgerVerifier.ts"
import { redisKeys } from "../../src/store/redis/redisKeys.ts"
import { RedisStore } from "../../src/store/redis/RedisStore.ts"
import { openArchivedBooks } from "../support/archivedBooks.ts"
import { freshDatabase, sqlOn } from "../support/historyFixtures.ts"
import { ledgerCoreOn } from "../support/ledgerLayers.ts"
import { TestPostgres } from "../support/postgresServer.ts"
import { TestRedis } from "../support/redisServer.ts"
import { playRound } from "../support/smallGame.ts"
import { unique } from "../store/planFixtures.ts"

const HMAC_KEY = "tamper-test-key"

/** Two rounds played, everything archived and trimmed from Redis, verification clean; then `tamper`, then verify. */
const findingsAfter = (tamper: (sql: SqlClient.SqlClient) => Effect.Effect<unknown, unknown>) =>
  Effect.gen(function*() {
    const url = yield* freshDatabase
    const books = yield* openArchivedBooks(unique("tamper") + ":", url, { settings: { hmacKey: HMAC_KEY } })
    return yield* Effect.gen(function*() {
      yield* playRound(1)
      yield* playRound(2)
      yield* (yield* Archiver).drain()
      const verifier = yield* LedgerVerifier
      assert.deepStrictEqual((yield* verifier.verifyAll()).findings, [], "clean before tampering")
      yield* tamper(yield* SqlClient.SqlClient)
      return (yield* verifier.verifyAll()).findings
    }).pipe(Effect.provide(Layer.merge(Layer.succeedContext(books), sqlOn(url))))
  })

const kinds = (findings: ReadonlyArray<{ readonly account: string; readonly kind: FindingKind }>, account: string) =>
  [...new Set(findings.filter((f) => f.account === account).map((f) => f.kind))].sort()

/** `findingsAfter` tampering with alice's first archived transfer; which one it was. */
const findingsAfterTransferTampering = (tamper: (sql: SqlClient.SqlClient, transferId: string) => Effect.Effect<unknown, unknown>) =>
  Effect.gen(function*() {
    let transferId = ""
    const findings = yield* findingsAfter((sql) =>
      Effect.gen(function*() {
        const [first] = yield* sql<{ transfer_id: string }>`
          select transfer_id from account_transfers where account = 'w:alice' order by idx limit 1`
        transferId = first!.transfer_id
        yield* tamper(sql, transferId)
      })
    )
    return { findings, transferId }
  })

/** Alice has a finding of `kind`, and every finding of that kind names the tampered transfer. */
const assertFoundOnly = (findings: ReadonlyArray<Finding>, kind: FindingKind, transferId: string) => {
  assert.include(kinds(findings, "w:alice"), kind)
  const ofKind = findings.filter((f) => f.kind === kind)
  assert.isTrue(ofKind.every((f) => f.detail.includes(transferId)), JSON.stringify(ofKind))
}

layer(Layer.mergeAll(TestRedis.layer, TestPostgres.layer), { timeout: 120_000, excludeTestServices: true })("Verification across Redis and the archive", (it) => {
  it.effect("an edited archived row is found (its checksum no longer recomputes)", () =>
    Effect.gen(function*() {
      const findings = yield* findingsAfter((sql) =>
        sql`update ledger_entries set amount = amount + 1, balance_after = balance_after + 1 where account = 'w:alice' and seq = 2`
      )
      assert.include(kinds(findings, "w:alice"), "BAD_CHECKSUM")
    }))

  it.effect("a deleted archived row is found (a gap in the seqs, a broken link)", () =>
    Effect.gen(function*() {
      const findings = yield* findingsAfter((sql) => sql`delete from ledger_entries where account = 'w:bob' and seq = 3`)
      assert.includeMembers(kinds(findings, "w:bob"), ["BROKEN_LINK", "SEQ_GAP"])
    }))

  it.effect("an account truncated in the archive is found (its chain ends before its head)", () =>
    Effect.gen(function*() {
      const findings = yield* findingsAfter((sql) =>
        sql`delete from ledger_entries where account = 'w:carol' and seq > 2`
      )
      assert.include(kinds(findings, "w:carol"), "HEAD_MISMATCH")
    }))

  it.effect("two archived rows swapped are found", () =>
    Effect.gen(function*() {
      const findings = yield* findingsAfter((sql) =>
        Effect.gen(function*() {
          yield* sql`update ledger_entries set seq = 1000 where account = 'w:alice' and seq = 2`
          yield* sql`update ledger_entries set seq = 2 where account = 'w:alice' and seq = 3`
          yield* sql`update ledger_entries set seq = 3 where account = 'w:alice' and seq = 1000`
        })
      )
      // Each row now sits at the other's seq: neither checksum recomputes, and the links cross.
      assert.includeMembers(kinds(findings, "w:alice"), ["BAD_CHECKSUM", "BROKEN_LINK"])
    }))

  it.effect("a forged head checkpoint is found (its HMAC does not match)", () =>
    Effect.gen(function*() {
      const findings = yield* findingsAfter((sql) =>
        sql`update head_checkpoints set balance = balance + 1000 where account = 'w:dave' or account = 'w:bob'`
      )
      assert.include(kinds(findings, "w:bob"), "CHECKPOINT_MISMATCH")
    }))

  it.effect("a transfer removed from the archive is found by its accounts' positions (a page would skip it)", () =>
    Effect.gen(function*() {
      const { findings, transferId } = yield* findingsAfterTransferTampering((sql, id) => sql`delete from transfers where transfer_id = ${id}`)
      assertFoundOnly(findings, "TRANSFER_MISSING", transferId)
    }))

  it.effect("an archived transfer whose amount was edited is found against the entries it made", () =>
    Effect.gen(function*() {
      const { findings, transferId } = yield* findingsAfterTransferTampering((sql, id) =>
        sql`update transfers set amount = amount + 1 where transfer_id = ${id}`
      )
      assertFoundOnly(findings, "TRANSFER_MISMATCH", transferId)
    }))

  it.effect("a chain truncated in Redis with its head rewritten to match: invisible to Redis alone, found against the archive and the checkpoints", () =>
    Effect.gen(function*() {
      const redis = yield* TestRedis
      const url = yield* freshDatabase
      const prefix = unique("truncate") + ":"
      // Archived but not trimmed yet: Redis still holds the whole chain, the attacker cuts it there.
      const books = yield* openArchivedBooks(prefix, url, { trim: false, settings: { hmacKey: HMAC_KEY } })
      yield* Effect.gen(function*() {
        yield* playRound(1)
        yield* (yield* Archiver).drain()
      }).pipe(Effect.provide(books))
      const raw = new Redis(redis.url)
      yield* Effect.addFinalizer(() => Effect.sync(() => raw.disconnect()))
      const keys = redisKeys(prefix)
      yield* Effect.promise(async () => {
        await raw.rpop(keys.ledger("w:alice"), 2)
        const last = JSON.parse((await raw.lindex(keys.ledger("w:alice"), -1))!) as LedgerEntry
        const wallet = JSON.parse((await raw.hget(keys.object("w:alice"), "d"))!) as WalletState
        const forged: WalletState = { ...wallet, seq: last.seq, checksum: last.checksum, balance: last.balanceAfter, held: last.heldAfter }
        await raw.hset(keys.object("w:alice"), "d", JSON.stringify(forged))
      })
      // Redis alone (the service without the history tier) sees a consistent chain.
      const redisOnly = yield* Layer.build(ledgerCoreOn(RedisStore.layer({ url: redis.url, keyPrefix: prefix }), { hmacKey: HMAC_KEY }))
      const before = yield* LedgerVerifier.use((v) => v.verifyAll()).pipe(Effect.provide(redisOnly))
      assert.deepStrictEqual(before.findings.filter((f) => f.account === "w:alice"), [])
      const after = yield* LedgerVerifier.use((v) => v.verifyAll()).pipe(Effect.provide(books))
      assert.deepStrictEqual(kinds(after.findings, "w:alice"), ["CHECKPOINT_MISMATCH"])
    }))
})

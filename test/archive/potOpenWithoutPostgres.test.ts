/**
 * The game goes on while PostgreSQL is down or hung, also where the ledger must read before a hand's
 * first contribution: its cache lacks the player's stack (a replay made it forget what it had cached;
 * another instance, or a restarted one, has a cold cache), so it reads the stack and the new pot from
 * the store, and the tiered store looks up absent pots in the archive. For a pot the command opens,
 * that lookup is the bounded pot-open check (TieredStore), not a read that waits for PostgreSQL.
 * Found by a black-box chaos run: with 30 % of calls repeated by the client, every table stalled for
 * as long as PostgreSQL was down (UNAVAILABLE at each retry; 5 s each with PostgreSQL hung).
 */
import { assert, layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { Archiver } from "../../src/archive/Archiver.ts"
import { Ledger } from "../../src/ledger/Ledger.ts"
import { LedgerVerifier } from "../../src/ledger/LedgerVerifier.ts"
import { openArchivedBooks } from "../support/archivedBooks.ts"
import { freshDatabase } from "../support/historyFixtures.ts"
import { TestPostgres } from "../support/postgresServer.ts"
import { TestRedis } from "../support/redisServer.ts"
import { playRound } from "../support/smallGame.ts"
import { unique } from "../store/planFixtures.ts"

/** A hand's first contribution of 5 at t1, where playRound(1) seated everyone. */
const openHand = (accountId: string, seatId: number, handId: string) =>
  Effect.flatMap(Ledger, (ledger) =>
    ledger.execute({
      op: "Contribute", tableId: "t1", handId, seatId, accountId, amount: 5, contributionType: "BET", idempotencyKey: `open-${handId}`
    }))

layer(Layer.mergeAll(TestRedis.layer, TestPostgres.layer), { timeout: 120_000, excludeTestServices: true })("Pot opens without PostgreSQL", (it) => {
  it.effect("a hand opens while PostgreSQL is down (after a replay; on a cold instance) and while it hangs (a cold instance); nothing is lost once it is back", () =>
    Effect.scoped(Effect.gen(function*() {
      const pg = yield* TestPostgres
      const prefix = unique("potopen") + ":"
      const url = yield* freshDatabase
      const instanceA = yield* openArchivedBooks(prefix, url)
      // Two more instances on the same Redis and archive, built (they claim the archive) while PostgreSQL is up; nothing cached yet.
      const coldB = yield* openArchivedBooks(prefix, url, { owner: "instance-b" })
      const coldC = yield* openArchivedBooks(prefix, url, { owner: "instance-c" })
      yield* Effect.gen(function*() {
        const ledger = yield* Ledger
        yield* playRound(1, ["alice", "bob", "carol"])
        // The game repeats alice's first bet of r1-h1 (same key, same request): a replay.
        const repeated = yield* ledger.execute({
          op: "Contribute", tableId: "t1", handId: "r1-h1", seatId: 1, accountId: "alice", amount: 10, contributionType: "BET",
          idempotencyKey: "r1-h1-alice"
        })
        assert.isTrue(repeated.replayed)
        yield* (yield* Archiver).drain()
      }).pipe(Effect.provide(instanceA))

      yield* Effect.promise(pg.stop)
      assert.strictEqual((yield* openHand("alice", 1, "down-after-replay").pipe(Effect.provide(instanceA))).result.totalPot, 5)
      assert.strictEqual((yield* openHand("bob", 2, "down-cold").pipe(Effect.provide(coldB))).result.totalPot, 5)

      yield* Effect.promise(pg.restart)
      pg.freeze()
      const hung = yield* openHand("carol", 3, "hung-cold").pipe(Effect.provide(coldC), Effect.ensuring(Effect.sync(pg.thaw)))
      assert.strictEqual(hung.result.totalPot, 5)

      yield* Effect.gen(function*() {
        const ledger = yield* Ledger
        for (const [hand, account] of [["down-after-replay", "alice"], ["down-cold", "bob"], ["hung-cold", "carol"]] as const) {
          const pot = (yield* ledger.pot("t1", hand)).value
          assert.strictEqual(pot?.status, "ACTIVE", hand)
          assert.deepStrictEqual(pot?.contributions.map((c) => [c.accountId, c.amount]), [[account, 5]], hand)
        }
        yield* (yield* Archiver).drain()
        const report = yield* (yield* LedgerVerifier).verifyAll()
        assert.isTrue(report.ok, JSON.stringify(report.findings))
      }).pipe(Effect.provide(instanceA))
    })))
})

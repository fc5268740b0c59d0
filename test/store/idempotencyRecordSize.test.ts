import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { Redis } from "ioredis"
import type { Command } from "../../src/domain/commands.ts"
import { Ledger } from "../../src/ledger/Ledger.ts"
import { redisKeys } from "../../src/store/redis/redisKeys.ts"
import { RedisStore } from "../../src/store/redis/RedisStore.ts"
import { ledgerOn } from "../support/ledgerLayers.ts"
import { TestRedis } from "../support/redisServer.ts"

/** Redis' own count (MEMORY USAGE: key, value and its dictionary entry) must stay at or below this. */
const RECORD_BYTES_AT_MOST = 250

const uuid = (n: number) => `3f1c2a9e-7b4d-4e21-9c55-${String(n).padStart(12, "0")}`

layer(TestRedis.layer, { excludeTestServices: true })("Idempotency record size (the default records)", (it) => {
  it.effect(`every kind of keyed call, with UUID keys and 19-character ids, leaves a record of at most ${RECORD_BYTES_AT_MOST} bytes (a settlement: per winner after the first, at most 80 more)`, () =>
    Effect.gen(function*() {
      const server = yield* TestRedis
      const raw = yield* Effect.acquireRelease(Effect.sync(() => new Redis(server.url)), (r) => Effect.sync(() => r.disconnect()))
      const keys = redisKeys("balance:")
      const sizes: Record<string, number> = {}
      let splitSettle = 0
      yield* Effect.gen(function*() {
        const ledger = yield* Ledger
        const measure = Effect.fnUntraced(function*(command: Command & { readonly idempotencyKey?: string }) {
          const outcome = yield* ledger.execute(command)
          const key = keys.idempotency(`${command.op}:${command.idempotencyKey}`)
          sizes[command.op] = Number(yield* Effect.promise(() => raw.memory("USAGE", key)))
          return outcome.result as unknown as Record<string, unknown>
        })
        for (const player of ["player-000000000042", "player-000000000043"]) {
          yield* ledger.execute({ op: "EnsureAccount", accountId: player, initialBalance: 1_000_000 })
        }
        yield* measure({ op: "Deposit", accountId: "player-000000000042", amount: 250_000, source: "PROMO", idempotencyKey: uuid(1) })
        yield* measure({ op: "Withdraw", accountId: "player-000000000042", amount: 1_000, reason: "ADMIN", idempotencyKey: uuid(2) })
        const reserved = yield* measure({
          op: "Reserve", accountId: "player-000000000042", tableId: "table-000000000007", amount: 200_000, timeoutMs: 30_000,
          idempotencyKey: uuid(3)
        })
        yield* measure({ op: "Commit", reservationId: String(reserved.reservationId), idempotencyKey: uuid(4) } as Command)
        const other = yield* ledger.execute({
          op: "Reserve", accountId: "player-000000000043", tableId: "table-000000000007", amount: 200_000, timeoutMs: 30_000,
          idempotencyKey: uuid(5)
        })
        yield* ledger.execute({ op: "Commit", reservationId: String((other.result as unknown as Record<string, unknown>).reservationId) } as Command)
        const hand = "hand-0000000000001234"
        yield* measure({
          op: "Contribute", tableId: "table-000000000007", handId: hand, seatId: 3, accountId: "player-000000000042", amount: 12_345,
          contributionType: "BET", idempotencyKey: uuid(6)
        })
        yield* ledger.execute({
          op: "Contribute", tableId: "table-000000000007", handId: hand, seatId: 5, accountId: "player-000000000043", amount: 12_345,
          contributionType: "CALL", idempotencyKey: uuid(7)
        })
        yield* measure({
          op: "Settle", tableId: "table-000000000007", handId: hand, idempotencyKey: uuid(8),
          winners: [{ seatId: 3, accountId: "player-000000000042", amount: 24_690 }]
        } as Command)
        // A split pot: each further winner adds one row to the response (and to the record).
        const split = "hand-0000000000001235"
        for (const [seatId, accountId] of [[3, "player-000000000042"], [5, "player-000000000043"]] as const) {
          yield* ledger.execute({
            op: "Contribute", tableId: "table-000000000007", handId: split, seatId, accountId, amount: 1_000,
            contributionType: "BET", idempotencyKey: uuid(20 + seatId)
          })
        }
        const settle = sizes.Settle!
        yield* measure({
          op: "Settle", tableId: "table-000000000007", handId: split, idempotencyKey: uuid(30),
          winners: [{ seatId: 3, accountId: "player-000000000042", amount: 1_000 }, { seatId: 5, accountId: "player-000000000043", amount: 1_000 }]
        } as Command)
        splitSettle = sizes.Settle!
        sizes.Settle = settle
        yield* measure({
          op: "CashOut", accountId: "player-000000000042", tableId: "table-000000000007", seatId: 3, amount: 100_000,
          idempotencyKey: uuid(9)
        })
      }).pipe(Effect.provide(ledgerOn(RedisStore.layer({ url: server.url, keyPrefix: "balance:" }))))
      for (const [op, bytes] of Object.entries(sizes)) {
        assert.isAbove(bytes, 0, `${op}: no record`)
        assert.isAtMost(bytes, RECORD_BYTES_AT_MOST, `${op}: ${bytes} bytes`)
      }
      assert.deepStrictEqual(Object.keys(sizes).sort(), ["CashOut", "Commit", "Contribute", "Deposit", "Reserve", "Settle", "Withdraw"])
      assert.isAtMost(splitSettle - sizes.Settle!, 80, `a second winner: ${splitSettle} bytes against ${sizes.Settle} for one`)
    }))
})

import { assert, layer } from "@effect/vitest"
import { Context, Deferred, Effect, Fiber, Layer, Logger } from "effect"
import { SqlClient } from "effect/sql"
import type { PotState } from "../../src/domain/accounts.ts"
import type { Transfer } from "../../src/domain/transfer.ts"
import * as Migrator from "effect/sql/Migrator"
import { type ArchiveBatch, type ArchiveSummary, HistoryStore, makePgHistoryStore } from "../../src/history/HistoryStore.ts"
import { historyMigrations } from "../../src/history/historyMigrations.ts"
import { makeMemoryHistoryStore } from "../../src/history/MemoryHistoryStore.ts"
import { chain, freshDatabase, sqlOn } from "../support/historyFixtures.ts"
import { eventuallyEffect } from "../support/eventually.ts"
import { TestPostgres } from "../support/postgresServer.ts"

const transfer = (id: string, from: string, to: string, amount: number): Transfer => ({
  transferId: id,
  type: "DEPOSIT",
  from,
  to,
  amount,
  parent: `transfer:${id}`,
  metadata: { source: "ADMIN" },
  timestamp: 1_700_000_000_000
})

const batch = (overrides: Partial<ArchiveBatch>): ArchiveBatch => ({
  fencingToken: 1,
  fromCursor: "0",
  toCursor: "1-0",
  entries: [],
  transfers: [],
  closed: [],
  stops: [],
  ...overrides
})

/** The schema as the release before migration `id` left it: the migrations below `id` only. */
const migratedBefore = (id: number) =>
  Migrator.make({})({
    loader: Migrator.fromRecord(Object.fromEntries(Object.entries(historyMigrations).filter(([name]) => Number(name.slice(0, 4)) < id))),
    table: "history_migrations"
  })

/** The history store on `url`, alive until the test's scope closes. */
const historyOn = (url: string) => Effect.map(Layer.build(HistoryStore.layer(url)), Context.get(HistoryStore))

/** Runs `body` with a history store on a new database, and that database's URL. */
const withHistory = <A, E>(body: (history: HistoryStore["Service"], url: string) => Effect.Effect<A, E, SqlClient.SqlClient>) =>
  Effect.gen(function*() {
    const url = yield* freshDatabase
    const history = yield* historyOn(url)
    return yield* Effect.provide(body(history, url), sqlOn(url))
  })

layer(TestPostgres.layer, { timeout: 60_000 })("HistoryStore on a real PostgreSQL", (it) => {
  it.effect("migrations run at start and a second start finds nothing to do", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase
      yield* historyOn(url)
      yield* historyOn(url)
      const applied = yield* Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        return yield* sql<{ migration_id: number }>`select migration_id from history_migrations`
      }).pipe(Effect.provide(sqlOn(url)))
      // Every migration, once each (0003: the economy's indexes on ts; 0004: the archive's id; 0005: retirement;
      // 0006: fewer indexes; 0007: the archive's counts).
      assert.deepStrictEqual(applied.map((r) => Number(r.migration_id)).sort((a, b) => a - b), [1, 2, 3, 4, 5, 6, 7])
    }), { timeout: 60_000 })

  it.effect("the archive's rows carry only the indexes its queries read: keys, the feed's order, BRIN on time; no foreign key", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase
      yield* historyOn(url)
      const { foreignKeys, indexes } = yield* Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const indexes = yield* sql<{ tablename: string; indexname: string; method: string }>`
          select i.tablename, i.indexname, am.amname as method
          from pg_indexes i join pg_class c on c.relname = i.indexname join pg_am am on am.oid = c.relam
          where i.schemaname = current_schema() and i.tablename in ('ledger_entries', 'transfers', 'account_transfers')
          order by i.tablename, i.indexname`
        const foreignKeys = yield* sql<{ conname: string }>`
          select conname from pg_constraint where contype = 'f' and conrelid = 'account_transfers'::regclass`
        return { foreignKeys, indexes }
      }).pipe(Effect.provide(sqlOn(url)))
      assert.deepStrictEqual(indexes.map((r) => `${r.tablename}.${r.indexname} ${r.method}`), [
        "account_transfers.account_transfers_pkey btree",
        "ledger_entries.ledger_entries_pkey btree",
        "ledger_entries.ledger_entries_ts brin",
        "transfers.transfers_order btree",
        "transfers.transfers_pkey btree",
        "transfers.transfers_ts brin"
      ])
      // 0006 dropped account_transfers' foreign key by name: a wrong name would have left it in place.
      assert.deepStrictEqual(foreignKeys.map((r) => r.conname), [])
    }), { timeout: 60_000 })

  it.effect("each archive has an id of its own, the same at every start", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase
      const first = yield* (yield* historyOn(url)).archiveId()
      assert.match(first, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/)
      assert.strictEqual(yield* (yield* historyOn(url)).archiveId(), first)
      const other = yield* (yield* historyOn(yield* freshDatabase)).archiveId()
      assert.notStrictEqual(other, first)
    }), { timeout: 60_000 })

  it.effect("an archive made before its id existed gets one at the next start, its cursor kept", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase
      // The archive as the release before 0004 left it, one batch committed.
      yield* migratedBefore(4).pipe(Effect.provide(sqlOn(url)))
      yield* Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        yield* sql`update archive_state set stream_cursor = '5-0', fencing_token = 3 where id = 1`
      }).pipe(Effect.provide(sqlOn(url)))
      const history = yield* historyOn(url)
      assert.match(yield* history.archiveId(), /^[0-9a-f-]{36}$/)
      assert.deepStrictEqual(yield* history.state(), { cursor: "5-0", fencingToken: 3 })
    }), { timeout: 60_000 })

  it.effect("the archive's counts are kept as rows change, whoever writes them: commits (repeats not counted), deletes, truncate", () =>
    withHistory((history) =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        /** The summary's counts next to the tables' own. */
        const counts = Effect.gen(function*() {
          const summary = yield* history.summary()
          const [held] = yield* sql<{ entries: bigint; transfers: bigint }>`
            select (select count(*) from ledger_entries) as entries, (select count(*) from transfers) as transfers`
          return { summary: [summary.archivedEntries, summary.archivedTransfers], held: [Number(held!.entries), Number(held!.transfers)] }
        })
        const entries = chain("w:alice", 4)
        const t = (id: string, position: number) => ({ transfer: transfer(id, "x:mint", "w:alice", 10), eventId: "1700000000000-1", position })
        yield* history.commit(batch({ entries: entries.slice(0, 3), transfers: [t("t1", 0), t("t2", 1)] }))
        assert.deepStrictEqual(yield* counts, { summary: [3, 2], held: [3, 2] })
        // The same rows again with one new of each (an archiver taking over from an older cursor).
        yield* history.commit(batch({ fencingToken: 2, fromCursor: "1-0", toCursor: "2-0", entries, transfers: [t("t1", 0), t("t2", 1), t("t3", 2)] }))
        assert.deepStrictEqual(yield* counts, { summary: [4, 3], held: [4, 3] })
        // Written without the store (an earlier version's archiver during a rolling update), then an operator's edits.
        yield* sql`insert into transfers (transfer_id, type, from_account, to_account, amount, parent, metadata, ts, event_ms, event_seq, position)
          values ('t4', 'DEPOSIT', 'x:mint', 'w:bob', 5, 'transfer:t4', '{}', 1, 1700000000000, 2, 0)`
        assert.deepStrictEqual(yield* counts, { summary: [4, 4], held: [4, 4] })
        yield* sql`delete from ledger_entries where account = 'w:alice' and seq > 2`
        assert.deepStrictEqual(yield* counts, { summary: [2, 4], held: [2, 4] })
        yield* sql`truncate transfers`
        assert.deepStrictEqual(yield* counts, { summary: [2, 0], held: [2, 0] })
      })
    ))

  it.effect("the status reads no archived row: it answers while both tables are locked", () =>
    withHistory((history) =>
      Effect.gen(function*() {
        yield* history.commit(batch({ entries: chain("w:alice", 3) }))
        const sql = yield* SqlClient.SqlClient
        const locked = yield* Deferred.make<void>()
        const release = yield* Deferred.make<void>()
        // Another session holds both tables as a migration or VACUUM FULL would: any read of them waits.
        const holder = yield* sql.withTransaction(Effect.gen(function*() {
          yield* sql`lock table ledger_entries, transfers in access exclusive mode`
          yield* Deferred.succeed(locked, undefined)
          yield* Deferred.await(release)
        })).pipe(Effect.forkChild)
        yield* Deferred.await(locked)
        let answered: ArchiveSummary | undefined
        const reader = yield* history.summary().pipe(Effect.tap((s) => Effect.sync(() => void (answered = s))), Effect.forkChild)
        const summary = yield* eventuallyEffect("the status while both tables are locked", Effect.sync(() => answered), { timeoutMs: 5_000 })
          .pipe(Effect.ensuring(Deferred.succeed(release, undefined)))
        yield* Fiber.join(holder)
        yield* Fiber.join(reader)
        assert.strictEqual(summary.archivedEntries, 3)
      })
    ))

  it.effect("an archive from before the counts were kept starts with its rows counted", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase
      yield* Effect.gen(function*() {
        yield* migratedBefore(7)
        // Rows as the release before 0007 wrote them.
        const before = makePgHistoryStore(yield* SqlClient.SqlClient)
        yield* before.commit(batch({
          entries: chain("w:alice", 5),
          transfers: [{ transfer: transfer("t1", "x:mint", "w:alice", 10), eventId: "1700000000000-1", position: 0 }]
        }))
      }).pipe(Effect.provide(sqlOn(url)))
      const history = yield* historyOn(url)
      const summary = yield* history.summary()
      assert.deepStrictEqual([summary.archivedEntries, summary.archivedTransfers, summary.cursor], [5, 1, "1-0"])
    }), { timeout: 60_000 })

  it.effect("a batch round-trips every field of entries, transfers and closed objects, safe integers included", () =>
    withHistory((history) =>
      Effect.gen(function*() {
        const entries = chain("w:alice", 3)
        const big = { ...entries[2]!, amount: 9007199254740991 - 20, balanceAfter: 9007199254740991 }
        const pot: PotState = {
          kind: "pot", tableId: "t1", handId: "h1", balance: 0, status: "SETTLED", contributions: [], createdAt: 1,
          closedAt: 5, seq: 2, checksum: "abc"
        }
        const outcome = yield* history.commit(batch({
          entries: [entries[0]!, entries[1]!, big],
          transfers: [{ transfer: transfer("t1", "x:mint", "w:alice", 9007199254740991), eventId: "1700000000000-3", position: 1 }],
          closed: [{ key: "p:t1:h1", state: pot, closedAt: 5 }]
        }))
        assert.deepStrictEqual(outcome, { _tag: "Committed" })
        assert.deepStrictEqual(yield* history.entries("w:alice", 0, 10), [entries[0]!, entries[1]!, big])
        assert.deepStrictEqual(yield* history.entries("w:alice", 1, 1), [entries[1]!])
        assert.deepStrictEqual(yield* history.transfers("w:alice"), [
          { transfer: transfer("t1", "x:mint", "w:alice", 9007199254740991), eventId: "1700000000000-3", position: 1 }
        ])
        assert.deepStrictEqual(yield* history.closedObject("p:t1:h1"), { key: "p:t1:h1", state: pot, closedAt: 5, version: null, retiredAt: null }, "no version given: none recorded; not retired")
        assert.strictEqual(yield* history.closedObject("p:t1:h2"), null)
        const heads = yield* history.heads(["w:alice", "w:bob"])
        assert.deepStrictEqual([...heads], [["w:alice", { seq: 3, checksum: big.checksum, balance: 9007199254740991, held: 0 }]])
        assert.deepStrictEqual(yield* history.state(), { cursor: "1-0", fencingToken: 1 })
        const sums = yield* history.checksums([{ account: "w:alice", seq: 2 }, { account: "w:alice", seq: 9 }])
        assert.deepStrictEqual([...sums], [["w:alice#2", entries[1]!.checksum]])
      })
    ))

  it.effect("a lower fencing token is refused and writes nothing; a moved cursor is refused and writes nothing", () =>
    withHistory((history) =>
      Effect.gen(function*() {
        const [a1, a2, a3] = chain("w:alice", 3)
        assert.deepStrictEqual(yield* history.commit(batch({ fencingToken: 5, entries: [a1!] })), { _tag: "Committed" })
        const stale = yield* history.commit(batch({ fencingToken: 4, fromCursor: "1-0", toCursor: "2-0", entries: [a2!] }))
        assert.deepStrictEqual(stale, { _tag: "Fenced", token: 5 })
        const moved = yield* history.commit(batch({ fencingToken: 5, fromCursor: "0", toCursor: "2-0", entries: [a2!] }))
        assert.deepStrictEqual(moved, { _tag: "CursorMoved", cursor: "1-0" })
        assert.deepStrictEqual((yield* history.entries("w:alice", 0, 10)).map((e) => e.seq), [1])
        // A newer archiver takes over with a higher token; the same rows again change nothing.
        const next = yield* history.commit(batch({ fencingToken: 6, fromCursor: "1-0", toCursor: "3-0", entries: [a1!, a2!, a3!] }))
        assert.deepStrictEqual(next, { _tag: "Committed" })
        assert.deepStrictEqual((yield* history.entries("w:alice", 0, 10)).map((e) => e.seq), [1, 2, 3])
        assert.deepStrictEqual(yield* history.state(), { cursor: "3-0", fencingToken: 6 })
      })
    ))

  it.effect("stopped accounts are recorded once, with the first reason", () =>
    withHistory((history) =>
      Effect.gen(function*() {
        yield* history.commit(batch({ stops: [{ account: "w:bob", seq: 7, reason: "first" }] }))
        yield* history.commit(batch({ fromCursor: "1-0", toCursor: "2-0", stops: [{ account: "w:bob", seq: 9, reason: "second" }] }))
        assert.deepStrictEqual([...(yield* history.stopped(["w:bob", "w:carol"]))], ["w:bob"])
        const sql = yield* SqlClient.SqlClient
        const rows = yield* sql<{ seq: bigint; reason: string }>`select seq, reason from archive_stops`
        assert.deepStrictEqual(rows.map((r) => [Number(r.seq), r.reason]), [[7, "first"]])
      })
    ))

  it.effect("0007 waits for an earlier version's archiver that is committing, without a deadlock", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase
      const earlier = yield* Layer.build(sqlOn(url))
      const sql = Context.get(earlier, SqlClient.SqlClient)
      yield* migratedBefore(7).pipe(Effect.provide(earlier))
      // An archiver of the release before 0007, halfway through its commit: archive_state updated, rows not yet inserted.
      const stateUpdated = yield* Deferred.make<void>()
      const insertNow = yield* Deferred.make<void>()
      const commit = yield* sql.withTransaction(Effect.gen(function*() {
        yield* sql`update archive_state set fencing_token = 1, stream_cursor = '1-0' where id = 1`
        yield* Deferred.succeed(stateUpdated, undefined)
        yield* Deferred.await(insertNow)
        yield* sql`insert into transfers (transfer_id, type, from_account, to_account, amount, parent, metadata, ts, event_ms, event_seq, position)
          values ('t1', 'DEPOSIT', 'x:mint', 'w:bob', 5, 'transfer:t1', '{}', 1, 1700000000000, 1, 0)`
      })).pipe(Effect.forkChild)
      yield* Deferred.await(stateUpdated)
      // The new release starts meanwhile: its migration waits for a lock the commit holds.
      const logged: Array<string> = []
      const starting = yield* historyOn(url).pipe(
        Effect.provide(Logger.layer([Logger.make(({ message }) => void logged.push((Array.isArray(message) ? message : [message]).join(" ")))])),
        Effect.forkChild
      )
      yield* eventuallyEffect("the migration waiting for a lock", Effect.map(
        sql<{ waiting: bigint }>`select count(*) as waiting from pg_locks where not granted`,
        (rows) => Number(rows[0]!.waiting) > 0
      ))
      // Taken in the other order (the archive's tables, then archive_state), this insert and the
      // migration would each wait for the other: PostgreSQL aborts one of them (the migration, which
      // waited first; it is then tried again).
      yield* Deferred.succeed(insertNow, undefined)
      yield* Fiber.join(commit)
      const history = yield* Fiber.join(starting)
      assert.deepStrictEqual(logged.filter((line) => line.includes("did not run")), [], "the migration failed once")
      const summary = yield* history.summary()
      assert.deepStrictEqual([summary.archivedTransfers, summary.cursor], [1, "1-0"])
    }), { timeout: 60_000 })

  it.effect("transfer positions whose transfer the archive does not hold are listed, in both stores", () =>
    withHistory((history) =>
      Effect.gen(function*() {
        for (const store of [history, makeMemoryHistoryStore()]) {
          yield* store.commit(batch({
            transfers: [{ transfer: transfer("t1", "x:mint", "w:alice", 10), eventId: "1700000000000-1", position: 0 }]
          }))
          yield* store.recordPositions([
            { account: "w:alice", idx: 0, transferId: "t1" },
            { account: "w:bob", idx: 3, transferId: "gone-2" },
            { account: "w:alice", idx: 1, transferId: "gone-1" }
          ])
          assert.deepStrictEqual(yield* store.positionsWithoutTransfer(10), [
            { account: "w:alice", idx: 1, transferId: "gone-1" },
            { account: "w:bob", idx: 3, transferId: "gone-2" }
          ])
          assert.deepStrictEqual(yield* store.positionsWithoutTransfer(1), [{ account: "w:alice", idx: 1, transferId: "gone-1" }])
        }
      })
    ))

  it.effect("transfers that disagree with their entries are listed, in both stores; system accounts and stopped ones are not checked", () =>
    withHistory((history) =>
      Effect.gen(function*() {
        const at = (id: string, from: string, to: string, amount: number, position: number) =>
          ({ transfer: transfer(id, from, to, amount), eventId: "1700000000000-1", position })
        const [alice1, alice2, alice3] = chain("w:alice", 3)
        const [bob1] = chain("w:bob", 1)
        const [carol1] = chain("w:carol", 1)
        for (const store of [history, makeMemoryHistoryStore()]) {
          yield* store.commit(batch({
            entries: [
              { ...alice1!, transferId: "t1", amount: 10 }, // from the mint: the agreeing case
              { ...alice2!, transferId: "t2", amount: -7 }, // alice -> bob 7, bob's entry says 8
              { ...alice3!, transferId: "t3", amount: -4 }, // alice -> carol 5, alice's entry says 4; carol stopped
              { ...bob1!, transferId: "t2", amount: 8 }
            ],
            transfers: [at("t1", "x:mint", "w:alice", 10, 0), at("t2", "w:alice", "w:bob", 7, 1), at("t3", "w:alice", "w:carol", 5, 2), at("t4", "w:dave", "x:rake", 3, 3)],
            stops: [{ account: "w:carol", seq: carol1!.seq, reason: "test" }]
          }))
          assert.deepStrictEqual(yield* store.transfersDisagreeingWithEntries(10), [
            { transferId: "t2", account: "w:bob", expected: 7, recorded: 8 },
            { transferId: "t3", account: "w:alice", expected: -5, recorded: -4 },
            { transferId: "t4", account: "w:dave", expected: -3, recorded: null }
          ])
          assert.strictEqual((yield* store.transfersDisagreeingWithEntries(1)).length, 1)
        }
      })
    ))

  it.effect("a batch larger than one INSERT's parameter limit commits whole", () =>
    withHistory((history) =>
      Effect.gen(function*() {
        const entries = chain("w:alice", 5_000)
        assert.deepStrictEqual(yield* history.commit(batch({ entries })), { _tag: "Committed" })
        assert.strictEqual((yield* history.heads(["w:alice"])).get("w:alice")?.seq, 5_000)
      })
    ))

  it.effect("PostgreSQL down: calls fail with HistoryUnavailable, and work again once it is back", () =>
    Effect.gen(function*() {
      const server = yield* TestPostgres
      const url = yield* freshDatabase
      const history = yield* historyOn(url)
      yield* history.ping()
      yield* Effect.promise(server.stop)
      const down = yield* Effect.flip(history.state())
      assert.strictEqual(down._tag, "HistoryUnavailable")
      yield* Effect.promise(server.restart)
      assert.deepStrictEqual(yield* history.state(), { cursor: "0", fencingToken: 0 })
    }), { timeout: 60_000 })
})


import { assert, layer } from "@effect/vitest"
import { Effect, type Layer } from "effect"
import { TestClock } from "effect/testing"
import {
  ABSENT,
  archivedPotMarker,
  potKey,
  type PotState,
  reservationKey,
  type ReservationState,
  walletKey,
  type WalletState
} from "../../src/domain/accounts.ts"
import type { Plan } from "../../src/domain/plan.ts"
import type { CommitResult, ReserveResult } from "../../src/domain/responses.ts"
import { type ApplyResult, Store } from "../../src/store/Store.ts"
import { keysFor, plan } from "../../src/domain/planner.ts"
import { deposit, ensure, eventually, exec, execApplied, planCommand, request, RULES, unique } from "./planFixtures.ts"
import { fingerprintOf } from "../support/fingerprints.ts"
import { sameFingerprint } from "../../src/domain/fingerprint.ts"

const MAX = Number.MAX_SAFE_INTEGER

export interface ConformanceTarget<R> {
  /** Built once for the suite (a redis-server, or nothing). */
  readonly shared: Layer.Layer<R, unknown>
  /** An empty store of its own (a fresh namespace) for one test. */
  readonly freshStore: (namespace: string) => Layer.Layer<Store, unknown, R>
  /** "test": TestClock drives idempotency TTLs; "live": real time, polled against a deadline. */
  readonly clock: "test" | "live"
}

const tagOf = (r: ApplyResult) => r._tag

/** What an apply that writes nothing must leave unchanged. */
const footprint = (objectKeys: ReadonlyArray<string>, accounts: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const store = yield* Store
    const snapshot = yield* store.load(objectKeys)
    return {
      objects: [...snapshot.objects],
      entries: yield* Effect.forEach(accounts, (a) => store.entries(a, 0, 1000)),
      transfers: yield* Effect.forEach(accounts, (a) => Effect.map(store.transfers(a, null, 1000), (p) => p.items)),
      events: (yield* store.events(null, 1000)).items.map((e) => e.id),
      system: yield* store.systemBalances(),
      stats: yield* store.stats(),
      accounts: (yield* store.accounts(null, 1000)).items,
      due: yield* store.dueReservations(MAX, 1000)
    }
  })

export const storeConformance = <R>(name: string, target: ConformanceTarget<R>) =>
  layer(target.shared, { excludeTestServices: target.clock === "live" })(`${name} conformance`, (it) => {
    const test = <A, E>(title: string, body: () => Effect.Effect<A, E, Store>) =>
      it.effect(title, () => Effect.provide(body(), target.freshStore(unique("t") + ":")))

    const ttlMs = 3_600_000
    const shortTtlMs = target.clock === "live" ? 300 : 1_000
    const awaitExpiry = (key: string) =>
      target.clock === "test"
        ? Effect.andThen(TestClock.adjust(shortTtlMs), Store.use((s) => s.load([], key)))
        : eventually(Store.use((s) => s.load([], key)), (snap) => snap.idempotency === null)

    test("load answers absent keys with version 0 and no idempotency record", () =>
      Effect.gen(function*() {
        const snap = yield* (yield* Store).load(["w:nobody", "r:nothing"], "no-such-key")
        assert.deepStrictEqual([...snap.objects], [["w:nobody", ABSENT], ["r:nothing", ABSENT]])
        assert.isNull(snap.idempotency)
      }))

    test("apply writes objects, entries, transfers, system balances, stats, index and one event", () =>
      Effect.gen(function*() {
        const store = yield* Store
        const p = yield* ensure("alice", 500)
        yield* execApplied({ op: "Withdraw", accountId: "alice", amount: 20, reason: "test", idempotencyKey: "w1" })
        const wallet = (yield* store.load([walletKey("alice")])).objects.get(walletKey("alice"))!
        assert.strictEqual(wallet.version, 2)
        assert.strictEqual((wallet.value as WalletState).balance, 480)
        const entries = yield* store.entries("w:alice", 0, 10)
        assert.deepStrictEqual(entries.map((e) => [e.seq, e.type, e.amount, e.balanceAfter]), [
          [1, "GRANT", 500, 500],
          [2, "WITHDRAW", -20, 480]
        ])
        assert.deepStrictEqual(entries[0], p.entries[0])
        assert.deepStrictEqual((yield* store.transfers("x:mint", null, 10)).items, [...p.transfers])
        assert.strictEqual((yield* store.transfers("x:burn", null, 10)).items[0]!.amount, 20)
        assert.strictEqual((yield* store.transfers("w:alice", null, 10)).items.length, 2)
        assert.deepStrictEqual(yield* store.systemBalances(), { mint: -500, burn: 20, rake: 0 })
        const stats = yield* store.stats()
        assert.strictEqual(stats.minted, 500)
        assert.strictEqual(stats.burned, 20)
        assert.strictEqual(stats.transfers, 2)
        assert.strictEqual(stats["by_type:GRANT"], 500)
        assert.deepStrictEqual((yield* store.accounts(null, 10)).items, ["w:alice"])
        const events = (yield* store.events(null, 10)).items
        assert.strictEqual(events.length, 2)
        assert.deepStrictEqual(events[1]!.entries, [...p.entries])
        assert.deepStrictEqual(events[1]!.transfers, [...p.transfers])
      }))

    test("an apply that moves nothing adds no event", () =>
      Effect.gen(function*() {
        const store = yield* Store
        assert.strictEqual(tagOf((yield* exec({ op: "EnsureAccount", accountId: "empty", initialBalance: 0 })).result), "Applied")
        assert.strictEqual((yield* store.load([walletKey("empty")])).objects.get(walletKey("empty"))!.version, 1)
        assert.deepStrictEqual((yield* store.events(null, 10)).items, [])
        assert.deepStrictEqual((yield* store.accounts(null, 10)).items, ["w:empty"])
      }))

    test("create-if-absent: expected version 0 conflicts once the key exists", () =>
      Effect.gen(function*() {
        const store = yield* Store
        const p = yield* planCommand({ op: "EnsureAccount", accountId: "bob", initialBalance: 10 })
        assert.strictEqual(p.expected[0]!.version, 0)
        assert.strictEqual(tagOf(yield* store.apply(request(p))), "Applied")
        const before = yield* footprint([walletKey("bob")], ["w:bob", "x:mint"])
        const again = yield* store.apply(request(p))
        assert.strictEqual(again._tag, "Conflict")
        if (again._tag === "Conflict") {
          const current = again.current.get(walletKey("bob"))!
          assert.strictEqual(current.version, 1)
          assert.strictEqual((current.value as WalletState).balance, 10)
        }
        assert.deepStrictEqual(yield* footprint([walletKey("bob")], ["w:bob", "x:mint"]), before)
      }))

    test("conflict returns the current state of every expected key and writes nothing", () =>
      Effect.gen(function*() {
        const store = yield* Store
        yield* ensure("carol", 1000)
        const stale = yield* planCommand({
          op: "Reserve", accountId: "carol", tableId: "t1", amount: 100, timeoutMs: 0, idempotencyKey: "r1"
        })
        yield* deposit("carol", 5)
        const rKey = stale.expected.find((e) => e.key.startsWith("r:"))!.key
        const keys = stale.expected.map((e) => e.key)
        const before = yield* footprint(keys, ["w:carol", "x:mint"])
        const result = yield* store.apply(request(stale, { key: "conflict-key", fingerprint: fingerprintOf("f"), ttlMs }))
        assert.strictEqual(result._tag, "Conflict")
        if (result._tag === "Conflict") {
          assert.deepStrictEqual([...result.current.keys()], keys)
          const wallet = result.current.get(walletKey("carol"))!
          assert.strictEqual(wallet.version, 2)
          assert.strictEqual((wallet.value as WalletState).balance, 1005)
          assert.deepStrictEqual(result.current.get(rKey), ABSENT)
        }
        assert.deepStrictEqual(yield* footprint(keys, ["w:carol", "x:mint"]), before)
        assert.isNull((yield* store.load([], "conflict-key")).idempotency, "a conflict stores no idempotency record")
      }))

    test("replay returns the stored response verbatim and writes nothing", () =>
      Effect.gen(function*() {
        const store = yield* Store
        yield* ensure("dave", 100)
        const idem = { key: "dep-1", fingerprint: fingerprintOf("fp-1"), ttlMs }
        const first = yield* planCommand({ op: "Deposit", accountId: "dave", amount: 7, source: "s", idempotencyKey: "dep-1" })
        const firstJson = JSON.stringify(first.response)
        assert.strictEqual(tagOf(yield* store.apply(request(first, idem))), "Applied")
        const record = (yield* store.load([], "dep-1")).idempotency
        // The store keeps at least the compared part of the fingerprint (compact records: its first 128 bits).
        assert.isNotNull(record)
        assert.isTrue(sameFingerprint(record!.fingerprint, idem.fingerprint), record!.fingerprint)
        assert.isFalse(sameFingerprint(record!.fingerprint, fingerprintOf("fp-2")))
        assert.strictEqual(record!.response, firstJson)
        const before = yield* footprint([walletKey("dave")], ["w:dave", "x:mint"])
        const second = yield* planCommand({ op: "Deposit", accountId: "dave", amount: 7, source: "s", idempotencyKey: "dep-1" })
        assert.deepStrictEqual(yield* store.apply(request(second, idem)), { _tag: "Replayed", response: firstJson })
        // Checked before versions: a stale plan with a used key is still a replay.
        assert.deepStrictEqual(yield* store.apply(request(first, idem)), { _tag: "Replayed", response: firstJson })
        assert.deepStrictEqual(yield* footprint([walletKey("dave")], ["w:dave", "x:mint"]), before)
      }))

    test("a key reused for another request is refused and writes nothing", () =>
      Effect.gen(function*() {
        yield* ensure("erin", 100)
        yield* execApplied(
          { op: "Deposit", accountId: "erin", amount: 1, source: "s", idempotencyKey: "k" },
          { idempotency: { key: "k", fingerprint: fingerprintOf("fp-a"), ttlMs } }
        )
        const before = yield* footprint([walletKey("erin")], ["w:erin", "x:mint"])
        const other = yield* exec(
          { op: "Deposit", accountId: "erin", amount: 2, source: "s", idempotencyKey: "k" },
          { idempotency: { key: "k", fingerprint: fingerprintOf("fp-b"), ttlMs } }
        )
        assert.deepStrictEqual(other.result, { _tag: "KeyReused" })
        assert.deepStrictEqual(yield* footprint([walletKey("erin")], ["w:erin", "x:mint"]), before)
      }))

    test("a system account leaving the safe range is refused and nothing is written", () =>
      Effect.gen(function*() {
        const store = yield* Store
        yield* ensure("whale", MAX)
        assert.strictEqual((yield* store.systemBalances()).mint, -MAX)
        const before = yield* footprint([walletKey("minnow")], ["x:mint"])
        const { result } = yield* exec(
          { op: "EnsureAccount", accountId: "minnow", initialBalance: 1 },
          { idempotency: { key: "ovf", fingerprint: fingerprintOf("f"), ttlMs } }
        )
        assert.deepStrictEqual(result, { _tag: "Overflow", account: "mint" })
        assert.deepStrictEqual(yield* footprint([walletKey("minnow")], ["x:mint"]), before)
        assert.isNull((yield* store.load([], "ovf")).idempotency)
        // Version check comes first: a stale overflowing plan is a conflict.
        const stale = yield* planCommand({ op: "EnsureAccount", accountId: "minnow2", initialBalance: 1 })
        yield* ensure("minnow2", 0)
        assert.strictEqual(tagOf(yield* store.apply(request(stale))), "Conflict")
        // Chips leaving through burn keep both system accounts inside the range.
        yield* execApplied({ op: "Withdraw", accountId: "whale", amount: MAX, reason: "x", idempotencyKey: "w" })
        assert.deepStrictEqual(yield* store.systemBalances(), { mint: -MAX, burn: MAX, rake: 0 })
      }))

    test("idempotency records expire after their TTL, then the key is free again", () =>
      Effect.gen(function*() {
        const store = yield* Store
        yield* ensure("fay", 100)
        const idem = { key: "ttl-key", fingerprint: fingerprintOf("fp"), ttlMs: shortTtlMs }
        yield* execApplied({ op: "Deposit", accountId: "fay", amount: 1, source: "s", idempotencyKey: "ttl-key" }, { idempotency: idem })
        assert.isNotNull((yield* store.load([], "ttl-key")).idempotency)
        const after = yield* awaitExpiry("ttl-key")
        assert.isNull(after.idempotency)
        const again = yield* exec(
          { op: "Deposit", accountId: "fay", amount: 1, source: "s", idempotencyKey: "ttl-key" },
          { idempotency: { ...idem, fingerprint: fingerprintOf("other") } }
        )
        assert.strictEqual(tagOf(again.result), "Applied")
      }))

    test("entries page by seq, ascending, chained", () =>
      Effect.gen(function*() {
        const store = yield* Store
        yield* ensure("gus", 1)
        for (let i = 0; i < 11; i++) yield* deposit("gus", i + 1)
        const pages = [
          yield* store.entries("w:gus", 0, 5),
          yield* store.entries("w:gus", 5, 5),
          yield* store.entries("w:gus", 10, 5),
          yield* store.entries("w:gus", 12, 5)
        ]
        assert.deepStrictEqual(pages.map((p) => p.map((e) => e.seq)), [[1, 2, 3, 4, 5], [6, 7, 8, 9, 10], [11, 12], []])
        const all = pages.flat()
        all.forEach((e, i) => assert.strictEqual(e.previousChecksum, i === 0 ? "GENESIS" : all[i - 1]!.checksum))
        assert.strictEqual(all[11]!.balanceAfter, 1 + 66)
        assert.deepStrictEqual(yield* store.entries("w:nobody", 0, 5), [])
      }))

    test("transfers page newest first by cursor, no gaps or duplicates, stable while new ones arrive", () =>
      Effect.gen(function*() {
        const store = yield* Store
        const created = [(yield* ensure("hal", 1)).transfers[0]!.transferId]
        for (let i = 0; i < 26; i++) created.push((yield* deposit("hal", 1)).transfers[0]!.transferId)
        const seen: Array<string> = []
        let cursor: string | null = null
        let pages = 0
        do {
          const page: { items: ReadonlyArray<{ transferId: string }>; nextCursor: string | null } =
            yield* store.transfers("w:hal", cursor, 4)
          seen.push(...page.items.map((t) => t.transferId))
          cursor = page.nextCursor
          if (pages++ === 0) yield* deposit("hal", 1) // newer than the cursor: must not shift the pages
        } while (cursor !== null)
        assert.strictEqual(pages, 7)
        assert.deepStrictEqual(seen, [...created].reverse())
        assert.strictEqual((yield* store.transfers("x:mint", null, 100)).items.length, 28)
        assert.deepStrictEqual(yield* store.transfers("w:nobody", null, 4), { items: [], nextCursor: null, floor: 0 })
      }))

    test("events page newest first; eventsAfter is ascending and exclusive", () =>
      Effect.gen(function*() {
        const store = yield* Store
        const plans: Array<Plan> = [yield* ensure("ivy", 10)]
        for (let i = 0; i < 4; i++) plans.push(yield* deposit("ivy", i + 1))
        const newest: Array<string> = []
        let cursor: string | null = null
        do {
          const page: { items: ReadonlyArray<{ id: string }>; nextCursor: string | null } = yield* store.events(cursor, 2)
          newest.push(...page.items.map((e) => e.id))
          cursor = page.nextCursor
        } while (cursor !== null)
        assert.strictEqual(newest.length, 5)
        assert.strictEqual(new Set(newest).size, 5)
        const ascending = yield* store.eventsAfter("0", 100)
        assert.deepStrictEqual(ascending.map((e) => e.id), [...newest].reverse())
        assert.deepStrictEqual(ascending.map((e) => e.transfers[0]!.transferId), plans.map((p) => p.transfers[0]!.transferId))
        const ids = ascending.map((e) => e.id)
        assert.deepStrictEqual((yield* store.eventsAfter(ids[1]!, 2)).map((e) => e.id), [ids[2], ids[3]])
        assert.deepStrictEqual(yield* store.eventsAfter(ids[4]!, 10), [])
        // Outlines: the same events, entries as account and seq, the same transfers.
        const outlines = yield* store.eventOutlinesAfter("0", 100)
        assert.deepStrictEqual(outlines, ascending.map((e) => ({
          id: e.id,
          entries: e.entries.map((x) => ({ accountId: x.accountId, seq: x.seq })),
          transfers: e.transfers
        })))
        assert.deepStrictEqual(outlines.map((o) => o.entries), plans.map((p) => p.entries.map((x) => ({ accountId: x.accountId, seq: x.seq }))))
        assert.deepStrictEqual((yield* store.eventOutlinesAfter(ids[1]!, 2)).map((e) => e.id), [ids[2], ids[3]])
      }))

    test("accounts page in key order, with cursor and prefix", () =>
      Effect.gen(function*() {
        const store = yield* Store
        const names = ["b-2", "a-1", "b-1", "c-1", "b-3", "a-2", "b-4"]
        for (const n of names) yield* ensure(n, 0)
        const walk = (prefix: string | undefined, size: number) =>
          Effect.gen(function*() {
            const out: Array<string> = []
            let cursor: string | null = null
            do {
              const page: { items: ReadonlyArray<string>; nextCursor: string | null } = yield* store.accounts(cursor, size, prefix)
              out.push(...page.items)
              cursor = page.nextCursor
            } while (cursor !== null)
            return out
          })
        const all = names.map((n) => `w:${n}`).sort()
        assert.deepStrictEqual(yield* walk(undefined, 3), all)
        assert.deepStrictEqual(yield* walk("w:b-", 2), ["w:b-1", "w:b-2", "w:b-3", "w:b-4"])
        assert.deepStrictEqual(yield* walk("w:c", 10), ["w:c-1"])
        assert.deepStrictEqual(yield* walk("w:z", 10), [])
        assert.deepStrictEqual(yield* store.accounts("w:a-2", 10, "w:b-"), { items: ["w:b-1", "w:b-2", "w:b-3", "w:b-4"], nextCursor: null })
        assert.deepStrictEqual(yield* store.accounts("w:b-2", 1, "w:b-"), { items: ["w:b-3"], nextCursor: "w:b-3" })
      }))

    test("due reservations come oldest first up to now and leave when released", () =>
      Effect.gen(function*() {
        const store = yield* Store
        yield* ensure("jo", 1000)
        const reserve = (timeoutMs: number) =>
          Effect.map(
            execApplied({ op: "Reserve", accountId: "jo", tableId: "t", amount: 10, timeoutMs, idempotencyKey: unique("res-") }),
            (p) => (p.response as ReserveResult).reservationId
          )
        const r3000 = yield* reserve(3000)
        const r1000 = yield* reserve(1000)
        const r2000 = yield* reserve(2000)
        assert.deepStrictEqual(yield* store.dueReservations(999, 10), [])
        assert.deepStrictEqual(yield* store.dueReservations(1000 + 1500, 10), [r1000])
        assert.deepStrictEqual(yield* store.dueReservations(1000 + 3000, 10), [r1000, r2000, r3000])
        assert.deepStrictEqual(yield* store.dueReservations(1000 + 3000, 2), [r1000, r2000])
        yield* execApplied({ op: "Release", reservationId: r2000, reason: "left" })
        assert.deepStrictEqual(yield* store.dueReservations(1000 + 3000, 10), [r1000, r3000])
        yield* execApplied({ op: "Commit", reservationId: r1000 }, { now: 1500 })
        assert.deepStrictEqual(yield* store.dueReservations(1000 + 3000, 10), [r3000])
        const accounts = (yield* store.accounts(null, 10)).items
        assert.deepStrictEqual(accounts, ["s:t:jo", "w:jo"])
      }))

    test("a settled or cancelled pot leaves the live accounts for the closed index, ordered and paged by closedAt", () =>
      Effect.gen(function*() {
        const store = yield* Store
        yield* ensure("cl", 100)
        const reserve = (yield* execApplied({ op: "Reserve", accountId: "cl", tableId: "ct", amount: 100, timeoutMs: 0, idempotencyKey: "cl-r" })).response as ReserveResult
        yield* execApplied({ op: "Commit", reservationId: reserve.reservationId })
        const hand = (h: string, close: "Settle" | "Cancel", at: number) =>
          Effect.gen(function*() {
            yield* execApplied({ op: "Contribute", tableId: "ct", handId: h, seatId: 1, accountId: "cl", amount: 5, contributionType: "BET", idempotencyKey: `cl-${h}` })
            const closing = close === "Settle"
              ? { op: "Settle" as const, tableId: "ct", handId: h, winners: [{ seatId: 1, accountId: "cl", amount: 5 }], idempotencyKey: `cl-s-${h}` }
              : { op: "Cancel" as const, tableId: "ct", handId: h, reason: "misdeal", idempotencyKey: `cl-x-${h}` }
            const p = yield* planCommand(closing, at)
            assert.deepStrictEqual(p.closedAccounts, [{ account: `p:ct:${h}`, closedAt: at }])
            assert.strictEqual((yield* store.apply(request(p)))._tag, "Applied")
          })
        yield* execApplied({ op: "Contribute", tableId: "ct", handId: "open", seatId: 1, accountId: "cl", amount: 5, contributionType: "BET", idempotencyKey: "cl-open" })
        yield* hand("h3", "Settle", 3_000)
        yield* hand("h1", "Cancel", 1_000)
        yield* hand("h2", "Settle", 2_000)
        assert.deepStrictEqual((yield* store.accounts(null, 10)).items, ["p:ct:open", "s:ct:cl", "w:cl"])
        assert.deepStrictEqual((yield* store.closedAccounts(-Infinity, null, 10)).items, ["p:ct:h1", "p:ct:h2", "p:ct:h3"])
        assert.deepStrictEqual((yield* store.closedAccounts(2_000, null, 10)).items, ["p:ct:h2", "p:ct:h3"])
        assert.deepStrictEqual((yield* store.closedAccounts(3_001, null, 10)).items, [])
        const first = yield* store.closedAccounts(0, null, 2)
        assert.deepStrictEqual(first.items, ["p:ct:h1", "p:ct:h2"])
        assert.deepStrictEqual(yield* store.closedAccounts(0, first.nextCursor, 2), { items: ["p:ct:h3"], nextCursor: null })
        // Closed, not gone: the pot and its chain are still read as before.
        assert.strictEqual((yield* store.entries("p:ct:h2", 0, 10)).length, 2)
        assert.strictEqual(((yield* store.load(["p:ct:h2"])).objects.get("p:ct:h2")!.value as { status: string }).status, "SETTLED")
      }))

    test("the archiver lease: one holder at a time, a larger fencing token for each new holder, renewal keeps it", () =>
      Effect.gen(function*() {
        const store = yield* Store
        assert.isNull(yield* store.archiverLease(), "nobody holds a fresh lease")
        const first = yield* store.acquireArchiverLease("a", ttlMs)
        assert.strictEqual(first._tag, "Held")
        const token = first._tag === "Held" ? first.token : -1
        assert.deepStrictEqual(yield* store.archiverLease(), { owner: "a", token }, "reading the lease shows its holder")
        assert.deepStrictEqual(yield* store.acquireArchiverLease("b", ttlMs), { _tag: "HeldByOther", owner: "a" })
        assert.deepStrictEqual(yield* store.acquireArchiverLease("a", ttlMs), { _tag: "Held", token }, "renewal keeps the token")
        yield* store.releaseArchiverLease("b")
        assert.deepStrictEqual(yield* store.acquireArchiverLease("b", ttlMs), { _tag: "HeldByOther", owner: "a" }, "only the holder releases")
        yield* store.releaseArchiverLease("a")
        assert.isNull(yield* store.archiverLease(), "a released lease has no holder")
        const second = yield* store.acquireArchiverLease("b", shortTtlMs)
        assert.strictEqual(second._tag, "Held")
        assert.isAbove(second._tag === "Held" ? second.token : -1, token)
        // b's lease lapses without renewal: a takes it with a larger token still.
        const third = target.clock === "test"
          ? yield* Effect.andThen(TestClock.adjust(shortTtlMs), store.acquireArchiverLease("a", ttlMs))
          : yield* eventually(store.acquireArchiverLease("a", ttlMs), (r) => r._tag === "Held")
        assert.strictEqual(third._tag, "Held")
        assert.isAbove(third._tag === "Held" ? third.token : -1, second._tag === "Held" ? second.token : -1)
      }))

    test("trim removes archived entries, transfers and events after checking each part; indexes and seqs keep their meaning", () =>
      Effect.gen(function*() {
        const store = yield* Store
        yield* ensure("alice", 500)
        for (let i = 0; i < 3; i++) yield* deposit("alice", 10 + i)
        const entries = yield* store.entries("w:alice", 0, 10)
        const aliceTransfers = [...(yield* store.transfers("w:alice", null, 10)).items].reverse()
        const events = [...(yield* store.events(null, 10)).items].reverse()
        assert.strictEqual(events.length, 4)
        const trimmed = yield* store.trimArchived({
          fromEventId: "0",
          throughEventId: events[1]!.id,
          accounts: [
            {
              account: "w:alice", entriesThroughSeq: 2, entriesThroughChecksum: entries[1]!.checksum, transfersBase: 0,
              transferIds: aliceTransfers.slice(0, 2).map((t) => t.transferId)
            },
            { account: "x:mint", entriesThroughSeq: 0, entriesThroughChecksum: "", transfersBase: 0, transferIds: aliceTransfers.slice(0, 2).map((t) => t.transferId) }
          ]
        })
        assert.deepStrictEqual(trimmed, { _tag: "Trimmed", entries: 2, transfers: 4, events: 2, skipped: [] })
        assert.deepStrictEqual(yield* store.entryPage("w:alice", 0, 10), { entries: entries.slice(2), trimmedThrough: 2 })
        assert.deepStrictEqual(yield* store.entries("w:alice", 3, 10), entries.slice(3), "seqs keep their meaning")
        assert.deepStrictEqual(yield* store.transfers("w:alice", null, 10), {
          items: aliceTransfers.slice(2).reverse(), nextCursor: "2", floor: 2
        })
        assert.deepStrictEqual(yield* store.transfers("w:alice", "3", 10), { items: [aliceTransfers[2]!], nextCursor: "2", floor: 2 })
        assert.deepStrictEqual(yield* store.transfers("w:alice", "2", 10), { items: [], nextCursor: "2", floor: 2 })
        const page = yield* store.events(null, 10)
        assert.deepStrictEqual(page.items.map((e) => e.id), [events[3]!.id, events[2]!.id])
        assert.strictEqual(page.trimmedThrough, events[1]!.id)
        const state = yield* store.trimState(["w:alice", "x:mint", "w:nobody"])
        assert.deepStrictEqual({ cursor: state.cursor, bases: [...state.transfersBase] }, {
          cursor: events[1]!.id,
          bases: [["w:alice", 2], ["x:mint", 2], ["w:nobody", 0]]
        })
        assert.deepStrictEqual(
          yield* store.trimArchived({ fromEventId: "0", throughEventId: events[3]!.id, accounts: [] }),
          { _tag: "CursorMoved", cursor: events[1]!.id },
          "a second trimmer from the same cursor writes nothing"
        )
        // Parts that do not match what the archive holds are skipped; the rest goes on.
        const mismatch = yield* store.trimArchived({
          fromEventId: events[1]!.id,
          throughEventId: events[3]!.id,
          accounts: [
            { account: "w:alice", entriesThroughSeq: 4, entriesThroughChecksum: "not-the-archived-one", transfersBase: 2, transferIds: [aliceTransfers[2]!.transferId] },
            { account: "x:mint", entriesThroughSeq: 0, entriesThroughChecksum: "", transfersBase: 2, transferIds: ["some-other-transfer"] }
          ]
        })
        assert.strictEqual(mismatch._tag, "Trimmed")
        if (mismatch._tag === "Trimmed") {
          assert.deepStrictEqual([mismatch.entries, mismatch.transfers, mismatch.events], [0, 1, 2])
          assert.deepStrictEqual(mismatch.skipped.map((x) => x.split(" ").slice(0, 2).join(" ")), ["w:alice entries", "x:mint transfers"])
        }
        assert.deepStrictEqual(yield* store.entries("w:alice", 0, 10), entries.slice(2), "alice's entries stay")
        assert.strictEqual((yield* store.transfers("x:mint", null, 10)).items.length, 2, "mint's transfers stay")
        assert.deepStrictEqual((yield* store.events(null, 10)).items, [])
      }))

    test("compactArchived replaces a settled pot by its marker at the same version, compare-and-set per object; anything else is left whole and reported", () =>
      Effect.gen(function*() {
        const store = yield* Store
        yield* ensure("al", 1_000)
        const { reservationId } = (yield* execApplied({ op: "Reserve", accountId: "al", tableId: "t", amount: 500, timeoutMs: 60_000, idempotencyKey: "buy" }))
          .response as ReserveResult
        assert.strictEqual(((yield* execApplied({ op: "Commit", reservationId })).response as CommitResult).newBalance, 500)
        const contribute = (handId: string) =>
          execApplied({ op: "Contribute", tableId: "t", handId, seatId: 1, accountId: "al", amount: 10, contributionType: "BET", idempotencyKey: unique("c") })
        for (const hand of ["settled", "stale", "active", "cancelled"]) yield* contribute(hand)
        for (const hand of ["settled", "stale"]) {
          yield* execApplied({ op: "Settle", tableId: "t", handId: hand, winners: [{ seatId: 1, accountId: "al", amount: 10 }], idempotencyKey: unique("s") })
        }
        yield* execApplied({ op: "Cancel", tableId: "t", handId: "cancelled", reason: "misdeal" })
        const keys = ["settled", "stale", "active", "cancelled"].map((h) => potKey("t", h))
        const before = (yield* store.load(keys)).objects
        const at = (key: string) => before.get(key)! as { readonly version: number; readonly value: PotState }
        const settled = at(keys[0]!)
        const marker = archivedPotMarker(settled.value)!
        const asSettledMarker = (p: PotState): PotState => ({ ...p, status: "SETTLED", contributions: [], archived: true })
        const untouched = yield* footprint(keys, ["s:t:al", ...keys])
        const result = yield* store.compactArchived([
          { key: keys[0]!, version: settled.version, marker },
          { key: keys[1]!, version: at(keys[1]!).version - 1, marker: archivedPotMarker(at(keys[1]!).value)! },
          { key: keys[2]!, version: at(keys[2]!).version, marker: asSettledMarker(at(keys[2]!).value) },
          { key: keys[3]!, version: at(keys[3]!).version, marker: asSettledMarker(at(keys[3]!).value) },
          { key: potKey("t", "never-played"), version: 1, marker: { ...marker, handId: "never-played" } },
          // A marker whose head is not this pot's (another chain, the same version).
          { key: keys[1]!, version: at(keys[1]!).version, marker: { ...archivedPotMarker(at(keys[1]!).value)!, checksum: settled.value.checksum } }
        ])
        assert.deepStrictEqual(result, {
          compacted: [keys[0]!],
          skipped: [
            `${keys[1]!} at version ${at(keys[1]!).version}, not ${at(keys[1]!).version - 1}`,
            `${keys[2]!} not a settled pot`,
            `${keys[3]!} not a settled pot`,
            `${potKey("t", "never-played")} absent`,
            `${keys[1]!} its checksum is not the marker's`
          ]
        })
        const after = yield* footprint(keys, ["s:t:al", ...keys])
        assert.deepStrictEqual(after.objects.find(([k]) => k === keys[0]!)?.[1], { version: settled.version, value: marker })
        assert.deepStrictEqual(marker, { ...settled.value, contributions: [], archived: true })
        // Nothing else changed: the other pots, the entries, transfers, events and indexes.
        assert.deepStrictEqual(
          { ...after, objects: after.objects.filter(([k]) => k !== keys[0]!) },
          { ...untouched, objects: untouched.objects.filter(([k]) => k !== keys[0]!) }
        )
        assert.deepStrictEqual(
          yield* store.compactArchived([{ key: keys[0]!, version: settled.version, marker }]),
          { compacted: [], skipped: [`${keys[0]!} already a marker`] },
          "compacting again writes nothing"
        )
        assert.deepStrictEqual(yield* store.compactArchived([]), { compacted: [], skipped: [] })
        assert.isNull(yield* store.archivedObject(keys[0]!), "a store without a history tier has no archived state to give")
        // The marker still refuses a late contribution: the hand id stays taken.
        const lateContribution = { op: "Contribute", tableId: "t", handId: "settled", seatId: 1, accountId: "al", amount: 10, contributionType: "BET", idempotencyKey: "late" } as const
        const state = (yield* store.load(keysFor(lateContribution, new Map()))).objects
        const late = plan(lateContribution, state, { now: 2_000, newId: () => unique("id-"), hmacKey: undefined }, RULES)
        assert.deepInclude(late, { _tag: "Refusal", code: "POT_NOT_ACTIVE" })
      }))

    test("retireArchived removes a closed object whole only under the caller's lease, at its version, closed, its lists trimmed as archived; anything else is left and reported", () =>
      Effect.gen(function*() {
        const store = yield* Store
        yield* ensure("ra", 1_000)
        const reserve = (key: string) =>
          Effect.map(execApplied({ op: "Reserve", accountId: "ra", tableId: "t", amount: 100, timeoutMs: 60_000, idempotencyKey: key }), (p) =>
            (p.response as ReserveResult).reservationId)
        const committed = yield* reserve("buy-1")
        yield* execApplied({ op: "Commit", reservationId: committed })
        const held = yield* reserve("buy-2")
        for (const hand of ["settled", "untrimmed", "active"]) {
          yield* execApplied({ op: "Contribute", tableId: "t", handId: hand, seatId: 1, accountId: "ra", amount: 5, contributionType: "BET", idempotencyKey: unique("c") })
        }
        for (const hand of ["settled", "untrimmed"]) {
          yield* execApplied({ op: "Settle", tableId: "t", handId: hand, winners: [{ seatId: 1, accountId: "ra", amount: 5 }], idempotencyKey: unique("s") })
        }
        const [settled, untrimmed, active] = ["settled", "untrimmed", "active"].map((h) => potKey("t", h))
        // Trim the settled pot's lists as the archiver would once PostgreSQL holds them.
        const entries = yield* store.entries(settled!, 0, 100)
        const transfers = [...(yield* store.transfers(settled!, null, 100)).items].reverse()
        const events = [...(yield* store.events(null, 1_000)).items].reverse()
        // Every other account of the trimmed events keeps its transfers (written out in full where its list
        // references the events: trim.lua's contract), as the Archiver does for an account it stopped for.
        const others = new Map<string, Array<string>>()
        for (const t of events.flatMap((e) => e.transfers)) {
          for (const account of [t.from, t.to]) if (account !== settled) others.set(account, [...(others.get(account) ?? []), t.transferId])
        }
        const trimmed = yield* store.trimArchived({
          fromEventId: "0",
          throughEventId: events[events.length - 1]!.id,
          accounts: [{
            account: settled!,
            entriesThroughSeq: entries.length,
            entriesThroughChecksum: entries[entries.length - 1]!.checksum,
            transfersBase: 0,
            transferIds: transfers.map((t) => t.transferId)
          }, ...[...others].map(([account, transferIds]) => ({
            account,
            entriesThroughSeq: 0,
            entriesThroughChecksum: "",
            transfersBase: 0,
            transferIds,
            keepTransfers: true
          }))]
        })
        assert.deepInclude(trimmed, { _tag: "Trimmed", skipped: [] })
        const keys = [settled!, untrimmed!, active!, reservationKey(committed), reservationKey(held)]
        const objects = (yield* store.load(keys)).objects
        const v = (key: string) => objects.get(key)!.version
        const asArchived = (key: string, entriesTrimmed: number, transfersTrimmed: number) => ({ key, version: v(key), entriesTrimmed, transfersTrimmed })
        const lease = yield* store.acquireArchiverLease("retirer", 60_000)
        assert.strictEqual(lease._tag, "Held")
        const token = lease._tag === "Held" ? lease.token : 0
        const untouched = yield* footprint(keys, ["w:ra", "s:t:ra", ...keys])

        const notLeased = yield* store.retireArchived({ owner: "someone-else", token, objects: [asArchived(reservationKey(committed), 0, 0)] })
        assert.deepStrictEqual(notLeased, { _tag: "NotLeased", current: `retirer ${token}` })
        const staleToken = yield* store.retireArchived({ owner: "retirer", token: token + 1, objects: [asArchived(reservationKey(committed), 0, 0)] })
        assert.strictEqual(staleToken._tag, "NotLeased")
        const refused = yield* store.retireArchived({
          owner: "retirer",
          token,
          objects: [
            { ...asArchived(settled!, entries.length, transfers.length), version: v(settled!) - 1 },
            asArchived(settled!, entries.length, transfers.length + 1),
            asArchived(settled!, entries.length - 1, transfers.length),
            asArchived(untrimmed!, 2, 2),
            asArchived(active!, 1, 1),
            asArchived(reservationKey(held), 0, 0),
            { key: reservationKey("never"), version: 1, entriesTrimmed: 0, transfersTrimmed: 0 }
          ]
        })
        assert.deepStrictEqual(refused, {
          _tag: "Retired",
          retired: [],
          absent: [reservationKey("never")],
          skipped: [
            `${settled!} at version ${v(settled!)}, not ${v(settled!) - 1}`,
            `${settled!} trimmed e:${entries.length} t:${transfers.length} in Redis, e:${entries.length} t:${transfers.length + 1} archived`,
            `${settled!} its head is seq ${entries.length}, not the archived ${entries.length - 1}`,
            `${untrimmed!} its ledger or transfer list is not empty`,
            `${active!} not a closed pot`,
            `${reservationKey(held)} a held reservation`
          ]
        })
        assert.deepStrictEqual(yield* footprint(keys, ["w:ra", "s:t:ra", ...keys]), untouched, "a refusal writes nothing")

        const done = yield* store.retireArchived({
          owner: "retirer",
          token,
          objects: [asArchived(settled!, entries.length, transfers.length), asArchived(reservationKey(committed), 0, 0)]
        })
        assert.deepStrictEqual(done, { _tag: "Retired", retired: [settled!, reservationKey(committed)], absent: [], skipped: [] })
        const after = yield* footprint(keys, ["w:ra", "s:t:ra", ...keys])
        assert.deepStrictEqual(after.objects.filter(([k]) => k === settled || k === reservationKey(committed)), [
          [settled!, { version: 0, value: null }],
          [reservationKey(committed), { version: 0, value: null }]
        ])
        assert.deepStrictEqual(
          { ...after, objects: after.objects.filter(([k]) => k !== settled && k !== reservationKey(committed)) },
          { ...untouched, objects: untouched.objects.filter(([k]) => k !== settled && k !== reservationKey(committed)) },
          "nothing else changed"
        )
        assert.deepStrictEqual((yield* store.closedAccounts(-Infinity, null, 10)).items, [untrimmed!], "the closed index lost the retired pot")
        assert.deepStrictEqual((yield* store.trimState([settled!])).transfersBase.get(settled!), 0, "its trimmed counters are gone")
        assert.deepStrictEqual((yield* store.entryPage(settled!, 0, 10)), { entries: [], trimmedThrough: 0 })
      }))

    test("numbers up to Number.MAX_SAFE_INTEGER survive a round trip exactly", () =>
      Effect.gen(function*() {
        const store = yield* Store
        yield* ensure("max", MAX)
        const wallet = (yield* store.load([walletKey("max")])).objects.get(walletKey("max"))!.value as WalletState
        assert.strictEqual(wallet.balance, MAX)
        const [entry] = yield* store.entries("w:max", 0, 1)
        assert.strictEqual(entry!.amount, MAX)
        assert.strictEqual(entry!.balanceAfter, MAX)
        assert.strictEqual((yield* store.transfers("w:max", null, 1)).items[0]!.amount, MAX)
        assert.strictEqual((yield* store.events(null, 1)).items[0]!.transfers[0]!.amount, MAX)
        assert.strictEqual((yield* store.systemBalances()).mint, -MAX)
        assert.strictEqual((yield* store.stats()).minted, MAX)
        const now = MAX - 60_000
        const p = yield* execApplied(
          { op: "Reserve", accountId: "max", tableId: "t", amount: MAX, timeoutMs: MAX - now, idempotencyKey: "big" },
          { now }
        )
        const { reservationId, expiresAt } = p.response as ReserveResult
        assert.strictEqual(expiresAt, MAX)
        const r = (yield* store.load([reservationKey(reservationId)])).objects.get(reservationKey(reservationId))!
        assert.strictEqual((r.value as ReservationState).expiresAt, MAX)
        assert.strictEqual((r.value as ReservationState).amount, MAX)
        assert.deepStrictEqual(yield* store.dueReservations(MAX - 1, 10), [])
        assert.deepStrictEqual(yield* store.dueReservations(MAX, 10), [reservationId])
        assert.strictEqual((yield* store.stats()).held, MAX)
      }))
  })

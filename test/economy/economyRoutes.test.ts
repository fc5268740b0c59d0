import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Effect, Layer, ManagedRuntime } from "effect"
import { Archiver } from "../../src/archive/Archiver.ts"
import type { HistoryViews } from "../../src/app/AdminServices.ts"
import { ArchiveEconomyHistory } from "../../src/economy/ArchiveEconomyHistory.ts"
import { HistoryStore } from "../../src/history/HistoryStore.ts"
import * as TieredStore from "../../src/history/TieredStore.ts"
import { LedgerSettings } from "../../src/ledger/LedgerSettings.ts"
import { Metrics } from "../../src/observability/Metrics.ts"
import { freshDatabase } from "../support/historyFixtures.ts"
import { startTestPostgresServer, TestPostgres, type TestPostgresServer } from "../support/postgresServer.ts"
import { MemoryStore } from "../../src/store/memory/MemoryStore.ts"
import { RedisStore } from "../../src/store/redis/RedisStore.ts"
import { Store } from "../../src/store/Store.ts"
import { clientFor } from "../http/support/client.ts"
import { startTestServer, type TestServer } from "../http/support/testServer.ts"
import { execute } from "../http/support/seed.ts"
import { startTestRedisServer, type TestRedisServer } from "../support/redisServer.ts"
import { EXPECTED, HOUR, playScriptedGame, RAKE_BASIS_POINTS } from "./scriptedGame.ts"

const iso = (ms: number) => new Date(ms).toISOString()

/** How a setup serves the economy: its layers, what it does after the game, the coverage source it reports. */
interface EconomySetup {
  readonly store: Layer.Layer<Store, unknown>
  readonly historyViews?: HistoryViews<unknown, Store>
  readonly source: "live-tail" | "archive+live-tail"
  /** Hours of the game [from, to) holding coverage.archivedThrough, the last archived transfer's time; absent: null. */
  readonly archivedThrough?: readonly [number, number]
  /** Runs after the scripted game, before the tests read (e.g. archive and trim Redis). */
  readonly afterGame?: (server: TestServer, h0: number) => Promise<void>
}

/** The economy endpoints, read after the scripted game, against the figures worked out from its script. */
const economyAfterScriptedGame = (label: string, makeSetup: () => EconomySetup | Promise<EconomySetup>) =>
  describe(`economy over time on the ${label}`, () => {
    let server: TestServer
    let setup: EconomySetup
    let h0 = 0
    const admin = () => clientFor(server.baseUrl).admin
    const range = (fromHour: number, toHour: number) => `from=${iso(h0 + fromHour * HOUR)}&to=${iso(h0 + toHour * HOUR)}`

    beforeAll(async () => {
      setup = await makeSetup()
      server = await startTestServer(setup.store, {
        ledgerSettings: { rules: { rake: { basisPoints: RAKE_BASIS_POINTS, capChips: 0, minPotChips: 0 }, reservationTimeoutMs: 30_000 } },
        ...(setup.historyViews === undefined ? {} : { historyViews: setup.historyViews })
      })
      h0 = await playScriptedGame(server)
      await setup.afterGame?.(server, h0)
    }, 120_000)
    afterAll(async () => {
      await server?.close()
    })

    it("supply and circulation by the hour: each hour's flows and the figures at its end", async () => {
      const reply = await admin().get(`/api/admin/economy/supply?${range(0, 4)}&bucket=hour`)
      expect(reply.status).toBe(200)
      expect(reply.body.coverage).toEqual({
        source: setup.source,
        historyFrom: null,
        complete: true,
        archivedThrough: setup.archivedThrough === undefined ? null : expect.any(String),
        eventsScanned: expect.any(Number)
      })
      if (setup.archivedThrough !== undefined) {
        const [fromHour, toHour] = setup.archivedThrough
        const through = Date.parse(reply.body.coverage.archivedThrough)
        expect(through).toBeGreaterThanOrEqual(h0 + fromHour * HOUR)
        expect(through).toBeLessThan(h0 + toHour * HOUR)
      }
      expect(reply.body.points.map((p: { start: string; end: string }) => [p.start, p.end])).toEqual(
        [0, 1, 2, 3].map((h) => [iso(h0 + h * HOUR), iso(h0 + (h + 1) * HOUR)])
      )
      expect(reply.body.points.map(({ start: _s, end: _e, partial: _p, ...figures }: Record<string, unknown>) => figures)).toEqual(EXPECTED.hours)
    })

    it("by the day: one point with the day's totals; a range starting mid-bucket is clipped", async () => {
      const day = await admin().get(`/api/admin/economy/supply?${range(0, 24)}&bucket=day`)
      expect(day.body.points).toEqual([expect.objectContaining({ minted: 3100, burned: 200, raked: 10, supply: 2900, circulation: 2890, transfers: 18 })])
      const clipped = await admin().get(`/api/admin/economy/supply?from=${iso(h0 + HOUR + 30 * 60_000)}&to=${iso(h0 + 3 * HOUR)}`)
      expect(clipped.body.points[0]).toMatchObject({ start: iso(h0 + HOUR + 30 * 60_000), end: iso(h0 + 2 * HOUR), supply: 3000, circulation: 2990 })
      expect(clipped.body.points[1]).toMatchObject({ supply: 2800, circulation: 2790, burned: 200 })
    })

    it("the default range is the 24 hours up to now", async () => {
      const reply = await admin().get("/api/admin/economy/supply")
      expect(reply.status).toBe(200)
      expect(Date.parse(reply.body.to) - Date.parse(reply.body.from)).toBe(24 * HOUR)
      expect(reply.body.points.at(-1)).toMatchObject({ supply: 2900, circulation: 2890 })
      expect(reply.body.points.reduce((sum: number, p: { minted: number }) => sum + p.minted, 0)).toBe(3100)
    })

    it("flows by transfer type over the whole game and over one hour", async () => {
      const all = await admin().get(`/api/admin/economy/flows?${range(0, 4)}`)
      expect(all.status).toBe(200)
      expect(all.body).toMatchObject({ minted: 3100, burned: 200, raked: 10, moved: 5490, transfers: 18, byType: EXPECTED.byType })
      const h1 = await admin().get(`/api/admin/economy/flows?${range(1, 2)}`)
      expect(h1.body).toMatchObject({ minted: 0, raked: 10, moved: 1400, transfers: 10 })
      expect(h1.body.byType.BUY_IN).toEqual({ chips: 800, transfers: 2 })
    })

    it("rake per table, reservation outcomes and the expiry rate", async () => {
      const rake = await admin().get(`/api/admin/economy/rake?${range(0, 4)}`)
      expect(rake.body).toMatchObject({ total: 10, tables: EXPECTED.rake })
      const reservations = await admin().get(`/api/admin/economy/reservations?${range(0, 4)}`)
      expect(reservations.body).toMatchObject(EXPECTED.reservations)
      const none = await admin().get(`/api/admin/economy/reservations?${range(2, 4)}`)
      expect(none.body).toMatchObject({ created: 0, committed: 0, expiryRate: null })
    })

    it("biggest movers: wallets by the size of their net change", async () => {
      const reply = await admin().get(`/api/admin/economy/movers?${range(0, 4)}&limit=2`)
      expect(reply.body.items).toEqual(EXPECTED.movers.slice(0, 2))
      const lastHours = await admin().get(`/api/admin/economy/movers?${range(2, 4)}`)
      expect(lastHours.body.items).toEqual([
        { accountId: "a", net: 490, credits: 490, debits: 0, entries: 1 },
        // A tie on |net| goes to the larger volume.
        { accountId: "b", net: 100, credits: 300, debits: 200, entries: 2 },
        { accountId: "c", net: 100, credits: 100, debits: 0, entries: 1 }
      ])
    })

    it("refuses a backwards range, too many points and a bad limit, naming the parameter", async () => {
      const backwards = await admin().get(`/api/admin/economy/flows?${range(2, 1)}`)
      expect([backwards.status, backwards.body.error, backwards.body.details.issues[0].path]).toEqual([400, "INVALID_RANGE", "from"])
      const tooMany = await admin().get(`/api/admin/economy/supply?from=2020-01-01T00:00:00Z&to=2025-01-01T00:00:00Z&bucket=hour`)
      expect([tooMany.status, tooMany.body.details.issues[0].path]).toEqual([400, "bucket"])
      const badLimit = await admin().get(`/api/admin/economy/movers?limit=0`)
      expect([badLimit.status, badLimit.body.details.issues[0].path]).toEqual([400, "limit"])
      const badTime = await admin().get(`/api/admin/economy/rake?from=yesterday`)
      expect([badTime.status, badTime.body.details.issues[0].path]).toEqual([400, "from"])
    })

    it("is for admins only", async () => {
      const anonymous = await clientFor(server.baseUrl).anonymous.get("/api/admin/economy/supply")
      expect(anonymous.status).toBe(401)
    })
  })

economyAfterScriptedGame("memory store", () => ({ store: MemoryStore.layer, source: "live-tail" }))

let redis: TestRedisServer | undefined
beforeAll(async () => {
  redis = await startTestRedisServer()
})
afterAll(async () => {
  await redis?.dispose()
})
economyAfterScriptedGame("Redis store", () => ({ store: RedisStore.layer({ url: redis!.url, keyPrefix: "economy-test:" }), source: "live-tail" }))

/** Every economy report of the scripted game's day, as the admin API answers them (coverage's scan count aside). */
const economyReports = async (server: TestServer, h0: number) => {
  const admin = clientFor(server.baseUrl).admin
  const day = `from=${iso(h0)}&to=${iso(h0 + 4 * HOUR)}`
  const paths = [
    `supply?${day}&bucket=hour`,
    `supply?from=${iso(h0 + HOUR + 30 * 60_000)}&to=${iso(h0 + 3 * HOUR)}`,
    `flows?${day}`,
    `flows?from=${iso(h0 + HOUR)}&to=${iso(h0 + 2 * HOUR)}`,
    `rake?${day}`,
    `reservations?${day}`,
    `movers?${day}`,
    `movers?from=${iso(h0 + 2 * HOUR)}&to=${iso(h0 + 4 * HOUR)}`
  ]
  const replies: Record<string, unknown> = {}
  for (const path of paths) {
    const reply = await admin.get(`/api/admin/economy/${path}`)
    expect(reply.status, path).toBe(200)
    const { coverage: { eventsScanned: _scanned, archivedThrough: _through, ...coverage }, ...body } = reply.body
    replies[path] = { ...body, coverage }
  }
  return replies
}

let postgres: TestPostgresServer | undefined
beforeAll(async () => {
  postgres = await startTestPostgresServer()
}, 120_000)
afterAll(async () => {
  await postgres?.dispose()
})
/** An archiver as another instance runs it (ArchiveJob), on the Redis and PostgreSQL of a tiered setup, for one task. */
const withArchiver = async <A>(
  redisStore: Layer.Layer<Store, unknown>,
  databaseUrl: string,
  batchEvents: number,
  task: Effect.Effect<A, unknown, Archiver | Store | HistoryStore>
): Promise<A> => {
  const archiver = ManagedRuntime.make(Archiver.layerWith({ batchEvents, trim: true }).pipe(
    Layer.provideMerge(Layer.mergeAll(redisStore, HistoryStore.layer(databaseUrl), LedgerSettings.layerWith({}), Metrics.layer))
  ))
  try {
    return await archiver.runPromise(task)
  } finally {
    await archiver.dispose()
  }
}

/** HISTORY_ARCHIVE=on: the Store spans Redis and the PostgreSQL of a fresh database; the economy is SQL over the archive plus the tail. */
const tieredSetup = async (prefix: string, options: { readonly eventsMaxLen?: number } = {}) => {
  const databaseUrl = await Effect.runPromise(Effect.provideService(freshDatabase, TestPostgres, postgres!))
  const redisStore = RedisStore.layer({ url: redis!.url, keyPrefix: prefix, ...options })
  const history = HistoryStore.layer(databaseUrl)
  return {
    databaseUrl,
    redisStore,
    store: TieredStore.layer.pipe(Layer.provide(redisStore), Layer.provide(history)),
    historyViews: { economy: ArchiveEconomyHistory.pipe(Layer.provide(history)) }
  }
}

economyAfterScriptedGame("tiered store (HISTORY_ARCHIVE=on), nothing archived yet: every figure from the live tail", async () => {
  const { store, historyViews } = await tieredSetup("economy-tiered-none:")
  return { store, historyViews, source: "archive+live-tail" }
})

economyAfterScriptedGame("tiered store, archived partway: the cursor inside hour 1, Redis trimmed through it (one bucket from both)", async () => {
  const { store, historyViews, redisStore, databaseUrl } = await tieredSetup("economy-tiered-part:")
  return {
    store,
    historyViews,
    source: "archive+live-tail",
    archivedThrough: [1, 2],
    afterGame: async (server) => {
      // One event per batch until the archive holds hour 0's 4 transfers and 3 of hour 1's 10.
      await withArchiver(redisStore, databaseUrl, 1, Effect.gen(function*() {
        const archiver = yield* Archiver
        const history = yield* HistoryStore
        while ((yield* history.summary()).archivedTransfers < 7) yield* archiver.pass()
        yield* archiver.trim()
        const store = yield* Store
        const { cursor } = yield* history.state()
        expect((yield* store.trimState([])).cursor, "Redis is trimmed through the archive's cursor").toBe(cursor)
        expect((yield* store.eventsAfter(cursor, 100)).length, "the rest of the game is only in Redis").toBeGreaterThan(5)
        expect((yield* history.summary()).archivedTransfers).toBeLessThan(14)
      }))
      await server.advanceClock(2_000)
    }
  }
})

economyAfterScriptedGame("tiered store, archived into PostgreSQL and trimmed from Redis", async () => {
  const { store, historyViews, redisStore, databaseUrl } = await tieredSetup("economy-tiered:")
  return {
    store,
    historyViews,
    source: "archive+live-tail",
    archivedThrough: [3, 4],
    afterGame: async (server, h0) => {
      const before = await economyReports(server, h0)
      await withArchiver(redisStore, databaseUrl, 5, Effect.gen(function*() {
        yield* (yield* Archiver).drain()
        const store = yield* Store
        const { cursor } = yield* (yield* HistoryStore).state()
        expect((yield* store.trimState([])).cursor, "Redis is trimmed through the archive's cursor").toBe(cursor)
        expect(yield* store.eventsAfter("0", 100), "the stream holds none of the game's writes").toEqual([])
      }))
      // A later instant: what was read before the archiver ran is not what answers now.
      await server.advanceClock(2_000)
      const after = await economyReports(server, h0)
      expect(after).toEqual(before)
    }
  }
})

describe("economy over the archive when Redis dropped writes before they were archived (coverage)", () => {
  let server: TestServer
  let start = 0
  let firstArchived = 0
  const admin = () => clientFor(server.baseUrl).admin

  beforeAll(async () => {
    const { store, historyViews, redisStore, databaseUrl } = await tieredSetup("economy-tiered-dropped:", { eventsMaxLen: 10 })
    server = await startTestServer(store, { historyViews })
    await execute(server, { op: "EnsureAccount", accountId: "dropped", initialBalance: 0 })
    start = Date.now()
    // XADD MAXLEN ~ trims whole stream nodes (100 entries each by default): far more writes than that.
    for (let i = 0; i < 400; i++) await execute(server, { op: "Deposit", accountId: "dropped", amount: 1, source: "PROMO", idempotencyKey: `dropped-${i}` })
    // Archived from here on: what the stream still held, not the writes it had dropped.
    firstArchived = await withArchiver(redisStore, databaseUrl, 50, Effect.gen(function*() {
      const history = yield* HistoryStore
      yield* (yield* Archiver).drain()
      const first = (yield* history.eventsBefore(null, (yield* history.state()).cursor, 1_000)).at(-1)!
      return first.transfers[0]!.timestamp
    }))
    // Two writes after the archive's cursor: the live tail.
    for (let i = 0; i < 2; i++) await execute(server, { op: "Deposit", accountId: "dropped", amount: 1, source: "PROMO", idempotencyKey: `tail-${i}` })
    await server.advanceClock(2_000)
  }, 120_000)
  afterAll(async () => {
    await server?.close()
  })

  it("says the history starts at the first archived transfer; supply now is exact; flows count what was seen", async () => {
    const range = `from=${iso(start - HOUR)}&to=${iso(Date.now() + HOUR)}`
    const supply = await admin().get(`/api/admin/economy/supply?${range}`)
    expect(supply.status).toBe(200)
    const c = supply.body.coverage
    expect([c.source, c.complete, Date.parse(c.historyFrom)]).toEqual(["archive+live-tail", false, firstArchived])
    expect(Date.parse(c.historyFrom)).toBeGreaterThan(start)
    expect(Date.parse(c.archivedThrough)).toBeGreaterThanOrEqual(firstArchived)
    expect(c.eventsScanned).toBe(2)
    expect(supply.body.points.at(-1)).toMatchObject({ supply: 402, circulation: 402 })
    expect(supply.body.points[0].partial).toBe(true)
    const flows = await admin().get(`/api/admin/economy/flows?${range}`)
    expect(flows.body.coverage).toEqual(c)
    // The archived deposits (from the first one the stream still held) plus the tail's two.
    expect(flows.body.minted).toBeLessThan(402)
    expect(flows.body.minted).toBe(flows.body.byType.DEPOSIT.chips)
    const archived = await admin().get(`/api/admin/economy/flows?from=${iso(firstArchived)}&to=${iso(Date.now() + HOUR)}`)
    expect(archived.body.minted).toBe(flows.body.minted)
  })

  it("a range from the first archived transfer on is complete", async () => {
    const reply = await admin().get(`/api/admin/economy/supply?from=${iso(firstArchived)}&to=${iso(Date.now() + HOUR)}`)
    expect(reply.body.coverage).toMatchObject({ complete: true, historyFrom: iso(firstArchived) })
    expect(reply.body.points.every((p: { partial: boolean }) => !p.partial)).toBe(true)
  })
})

describe("economy over time when Redis has trimmed the oldest writes (REDIS_EVENTS_MAXLEN)", () => {
  let server: TestServer
  beforeAll(async () => {
    server = await startTestServer(RedisStore.layer({ url: redis!.url, keyPrefix: "economy-trim:", eventsMaxLen: 10 }))
  })
  afterAll(async () => {
    await server?.close()
  })

  it("says from when it saw history, and the supply now is still exact", async () => {
    await execute(server, { op: "EnsureAccount", accountId: "trim", initialBalance: 0 })
    const start = Date.now()
    // XADD MAXLEN ~ trims whole stream nodes (100 entries each by default): far more writes than that.
    for (let i = 0; i < 400; i++) await execute(server, { op: "Deposit", accountId: "trim", amount: 1, source: "PROMO", idempotencyKey: `trim-${i}` })
    const admin = clientFor(server.baseUrl).admin
    const reply = await admin.get(`/api/admin/economy/supply?from=${iso(start - HOUR)}&to=${iso(Date.now() + 1000)}`)
    expect(reply.status).toBe(200)
    const c = reply.body.coverage
    expect(c.complete).toBe(false)
    expect(Date.parse(c.historyFrom)).toBeGreaterThan(start)
    expect(reply.body.points.at(-1)).toMatchObject({ supply: 400, circulation: 400 })
    // Flows are only what was seen: fewer than the 400 deposits.
    const flows = await admin.get(`/api/admin/economy/flows?from=${iso(start - HOUR)}&to=${iso(Date.now() + 1000)}`)
    expect(flows.body.coverage.complete).toBe(false)
    expect(flows.body.minted).toBeLessThan(400)
    expect(flows.body.minted).toBe(flows.body.byType.DEPOSIT.chips)
  })
})

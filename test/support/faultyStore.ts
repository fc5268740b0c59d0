import { Effect, Layer } from "effect"
import { MemoryStore } from "../../src/store/memory/MemoryStore.ts"
import { Store } from "../../src/store/Store.ts"
import { StoreUnavailable } from "../../src/store/StoreErrors.ts"

export type Fault = "none" | "down" | "conflict" | "defect" | "hang"

/**
 * A memory store a test can break on purpose: down (every call fails with
 * StoreUnavailable), conflict (every apply reports a version conflict, as if
 * other writers always won), defect (every call dies), or hang (no call
 * ever answers; `interrupted` counts the calls the server gave up on).
 */
export const makeFaultyStore = () => {
  const inner = MemoryStore.make()
  let fault: Fault = "none"
  let interrupted = 0
  const guard = <A, E>(operation: string, effect: () => Effect.Effect<A, E>): Effect.Effect<A, E | StoreUnavailable> =>
    Effect.suspend((): Effect.Effect<A, E | StoreUnavailable> => {
      if (fault === "down") return Effect.fail(new StoreUnavailable({ operation, reason: "test: store is down" }))
      if (fault === "defect") return Effect.die(new Error(`test: ${operation} exploded`))
      if (fault === "hang") return Effect.onInterrupt(Effect.never, () => Effect.sync(() => void interrupted++))
      return effect()
    })
  const store = Store.of({
    load: (keys, idem, opens) => guard("load", () => inner.load(keys, idem, opens)),
    apply: (r) =>
      guard("apply", () =>
        fault === "conflict"
          ? Effect.map(inner.load(r.plan.expected.map((e) => e.key)), (s) => ({ _tag: "Conflict" as const, current: s.objects }))
          : inner.apply(r)),
    entries: (a, s, l) => guard("entries", () => inner.entries(a, s, l)),
    entryPage: (a, s, l) => guard("entries", () => inner.entryPage(a, s, l)),
    transfers: (a, c, l) => guard("transfers", () => inner.transfers(a, c, l)),
    events: (c, l) => guard("events", () => inner.events(c, l)),
    eventsAfter: (id, l) => guard("eventsAfter", () => inner.eventsAfter(id, l)),
    eventOutlinesAfter: (id, l) => guard("eventsAfter", () => inner.eventOutlinesAfter(id, l)),
    accounts: (c, l, p) => guard("accounts", () => inner.accounts(c, l, p)),
    closedAccounts: (s, c, l) => guard("closedAccounts", () => inner.closedAccounts(s, c, l)),
    dueReservations: (n, l) => guard("dueReservations", () => inner.dueReservations(n, l)),
    systemBalances: () => guard("systemBalances", () => inner.systemBalances()),
    stats: () => guard("stats", () => inner.stats()),
    ping: () => guard("ping", () => inner.ping()),
    acquireArchiverLease: (o, t) => guard("lease", () => inner.acquireArchiverLease(o, t)),
    releaseArchiverLease: (o) => guard("lease", () => inner.releaseArchiverLease(o)),
    archiverLease: () => guard("lease", () => inner.archiverLease()),
    claimArchiveId: (id) => guard("claimArchiveId", () => inner.claimArchiveId(id)),
    archiveIdOfRedis: () => guard("archiveIdOfRedis", () => inner.archiveIdOfRedis()),
    trimState: (a) => guard("trimState", () => inner.trimState(a)),
    trimArchived: (r) => guard("trim", () => inner.trimArchived(r)),
    compactArchived: (o) => guard("compact", () => inner.compactArchived(o)),
    retireArchived: (r) => guard("retire", () => inner.retireArchived(r)),
    archivedObject: (k) => guard("archivedObject", () => inner.archivedObject(k)),
    awaitReplication: () => guard("awaitReplication", () => inner.awaitReplication())
  })
  return { layer: Layer.succeed(Store, store), set: (f: Fault) => void (fault = f), interrupted: () => interrupted }
}

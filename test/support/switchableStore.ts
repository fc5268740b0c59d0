import { Effect, Layer } from "effect"
import { makeMemoryStore } from "../../src/store/memory/MemoryStore.ts"
import { Store } from "../../src/store/Store.ts"
import { StoreUnavailable } from "../../src/store/StoreErrors.ts"

/** A memory store that a test can take down and bring back, to exercise degraded mode without sleeping. */
export const makeSwitchableStore = () => {
  const inner = makeMemoryStore()
  let up = true
  const guard = <A, E>(operation: string, effect: () => Effect.Effect<A, E>): Effect.Effect<A, E | StoreUnavailable> =>
    Effect.suspend((): Effect.Effect<A, E | StoreUnavailable> =>
      up ? effect() : Effect.fail(new StoreUnavailable({ operation, reason: "test: store is down" }))
    )
  const store = Store.of({
    load: (keys, idem) => guard("load", () => inner.load(keys, idem)),
    apply: (r) => guard("apply", () => inner.apply(r)),
    entries: (a, s, l) => guard("entries", () => inner.entries(a, s, l)),
    transfers: (a, c, l) => guard("transfers", () => inner.transfers(a, c, l)),
    events: (c, l) => guard("events", () => inner.events(c, l)),
    eventsAfter: (id, l) => guard("eventsAfter", () => inner.eventsAfter(id, l)),
    accounts: (c, l, p) => guard("accounts", () => inner.accounts(c, l, p)),
    dueReservations: (n, l) => guard("dueReservations", () => inner.dueReservations(n, l)),
    systemBalances: () => guard("systemBalances", () => inner.systemBalances()),
    stats: () => guard("stats", () => inner.stats()),
    ping: () => guard("ping", () => inner.ping()),
    awaitReplication: () => guard("awaitReplication", () => inner.awaitReplication())
  })
  return {
    layer: Layer.succeed(Store, store),
    down: () => void (up = false),
    up: () => void (up = true)
  }
}

import { Layer } from "effect"
import { CommandExecutor } from "../../src/degradation/CommandExecutor.ts"
import { Ledger } from "../../src/ledger/Ledger.ts"
import { LedgerSettings } from "../../src/ledger/LedgerSettings.ts"
import { LedgerVerifier } from "../../src/ledger/LedgerVerifier.ts"
import { MemoryStore } from "../../src/store/memory/MemoryStore.ts"
import type { Store } from "../../src/store/Store.ts"
import { Metrics } from "../../src/observability/Metrics.ts"

/** Ledger + verifier over a given store layer, with settings for tests. */
export const ledgerCoreOn = <E, R>(
  store: Layer.Layer<Store, E, R>,
  settings: Partial<LedgerSettings["Service"]> = {}
) =>
  Layer.mergeAll(Ledger.layer, LedgerVerifier.layer).pipe(
    Layer.provideMerge(store),
    Layer.provideMerge(LedgerSettings.layerWith(settings)),
    Layer.provideMerge(Metrics.layer)
  )

/** The core plus a CommandExecutor that goes straight to the ledger (no durable queue). */
export const ledgerOn = <E, R>(
  store: Layer.Layer<Store, E, R>,
  settings: Partial<LedgerSettings["Service"]> = {}
) => CommandExecutor.layerWithoutQueue.pipe(Layer.provideMerge(ledgerCoreOn(store, settings)))

/** A fresh in-memory ledger (new store each time the layer is built). */
export const memoryLedger = (settings: Partial<LedgerSettings["Service"]> = {}) => ledgerOn(MemoryStore.layer, settings)

import { Layer } from "effect"
import { MemoryStoreLayer } from "../../src/store/memory/MemoryStore.ts"
import { storeConformance } from "./storeConformance.ts"

storeConformance("MemoryStore", {
  shared: Layer.empty,
  freshStore: () => MemoryStoreLayer,
  clock: "test"
})

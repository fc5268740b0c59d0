import { Layer } from "effect"
import { MemoryStore } from "../../src/store/memory/MemoryStore.ts"
import { storeConformance } from "./storeConformance.ts"

storeConformance("MemoryStore", {
  shared: Layer.empty,
  freshStore: () => MemoryStore.layer,
  clock: "test"
})

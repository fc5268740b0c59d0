import { MemoryStoreLayer } from "../../src/store/memory/MemoryStore.ts"
import { describeHttpApi } from "./support/httpApiSuite.ts"

describeHttpApi("memory store", () => MemoryStoreLayer)

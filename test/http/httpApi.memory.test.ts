import { MemoryStore } from "../../src/store/memory/MemoryStore.ts"
import { describeHttpApi } from "./support/httpApiSuite.ts"

describeHttpApi("memory store", () => MemoryStore.layer)

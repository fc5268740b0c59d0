import { MemoryStore } from "../../src/store/memory/MemoryStore.ts"
import { httpApiSuite } from "./support/httpApiSuite.ts"

httpApiSuite("memory store", MemoryStore.layer)

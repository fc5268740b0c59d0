import { MemoryStore } from "../../src/store/memory/MemoryStore.ts"
import { balanceContract } from "./balanceContract.ts"

balanceContract("memory store", MemoryStore.layer)

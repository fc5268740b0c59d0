import { MemoryStoreLayer } from "../../src/store/memory/MemoryStore.ts"
import { balanceContract } from "./balanceContract.ts"

balanceContract("memory store", MemoryStoreLayer)

import { layer } from "@effect/vitest"
import type { Layer } from "effect"
import type { Store } from "../../src/store/Store.ts"
import { concurrentBuyIns } from "./contract/concurrentBuyIns.ts"
import { fullGame } from "./contract/fullGame.ts"
import { healthAndReflection } from "./contract/healthAndReflection.ts"
import { reservationRpcs } from "./contract/reservationRpcs.ts"
import { tableRpcs } from "./contract/tableRpcs.ts"
import { walletRpcs } from "./contract/walletRpcs.ts"
import { grpcServerOn } from "./support/grpcTestServer.ts"

/**
 * The gRPC contract, as the game's client sees it (real grpc-js client,
 * snake_case fields, int64 as strings), against the real server on a free
 * port over the ledger on `store`. One server and store per suite; tests use
 * disjoint account and table ids.
 */
export const balanceContract = <E>(name: string, store: Layer.Layer<Store, E>) =>
  layer(grpcServerOn(store), { excludeTestServices: true })(`BalanceService contract (${name})`, (it) => {
    walletRpcs(it)
    reservationRpcs(it)
    tableRpcs(it)
    concurrentBuyIns(it)
    fullGame(it)
    healthAndReflection(it)
  })

import { layer, type Vitest } from "@effect/vitest"
import type { Layer } from "effect"
import type { Ledger } from "../../../src/ledger/Ledger.ts"
import type { LedgerVerifier } from "../../../src/ledger/LedgerVerifier.ts"
import type { Store } from "../../../src/store/Store.ts"
import type { ShiftableClock } from "../../grpc/support/shiftableClock.ts"
import { accountRoutes } from "../suites/accountRoutes.ts"
import { adminRoutes } from "../suites/adminRoutes.ts"
import { errorResponses } from "../suites/errorResponses.ts"
import { openApiDocument } from "../suites/openApiDocument.ts"
import { operationsRoutes } from "../suites/operationsRoutes.ts"
import { pagination } from "../suites/pagination.ts"
import { TestHttpServer } from "./testServer.ts"

/** What every section of the HTTP API suite may use; the store behind the server is the suite's parameter. */
export type HttpApiIt = Vitest.MethodsNonLive<TestHttpServer | Ledger | LedgerVerifier | Store | ShiftableClock>

/**
 * The whole HTTP API suite against one store: one real server on a free port per suite, built
 * before its first test and closed after its last; tests use disjoint ids. Live services: the
 * server answers over real sockets and polls on real time, which TestClock would freeze.
 */
export const httpApiSuite = <E>(label: string, store: Layer.Layer<Store, E>) =>
  layer(TestHttpServer.layer(store), { excludeTestServices: true })(`HTTP API on the ${label}`, (it) => {
    accountRoutes(it)
    adminRoutes(it)
    errorResponses(it)
    pagination(it)
    openApiDocument(it)
    operationsRoutes(it)
  })

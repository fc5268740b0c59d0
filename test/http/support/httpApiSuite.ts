import type { Layer } from "effect"
import { afterAll, beforeAll, describe } from "vitest"
import type { Store } from "../../../src/store/Store.ts"
import { accountRoutes } from "../suites/accountRoutes.ts"
import { adminRoutes } from "../suites/adminRoutes.ts"
import { errorResponses } from "../suites/errorResponses.ts"
import { openApiDocument } from "../suites/openApiDocument.ts"
import { operationsRoutes } from "../suites/operationsRoutes.ts"
import { pagination } from "../suites/pagination.ts"
import { clientFor } from "./client.ts"
import { startTestServer, type TestServer } from "./testServer.ts"

export interface SuiteContext {
  readonly server: () => TestServer
  readonly client: () => ReturnType<typeof clientFor>
}

/**
 * The whole HTTP API suite against one store. `makeStore` runs in beforeAll,
 * so a store that needs a running server (Redis) can read its URL then.
 */
export const describeHttpApi = <E>(label: string, makeStore: () => Layer.Layer<Store, E>) =>
  describe(`HTTP API on the ${label}`, () => {
    let server: TestServer | undefined
    let client: ReturnType<typeof clientFor> | undefined
    beforeAll(async () => {
      server = await startTestServer(makeStore())
      client = clientFor(server.baseUrl)
    })
    afterAll(async () => {
      await server?.close()
    })
    const ctx: SuiteContext = {
      server: () => server!,
      client: () => client!
    }
    accountRoutes(ctx)
    adminRoutes(ctx)
    errorResponses(ctx)
    pagination(ctx)
    openApiDocument(ctx)
    operationsRoutes(ctx)
  })

import { Schema } from "effect"
import { OpenApi } from "effect/http-api"
import { describe, expect, it } from "vitest"
import { BalanceApi } from "../../src/api/http/BalanceApi.ts"
import * as Economy from "../../src/api/http/schemas/EconomySchemas.ts"
import * as Operations from "../../src/api/http/schemas/OperationsSchemas.ts"

const documented = {
  SupplySeries: Economy.SupplySeriesView,
  EconomyFlows: Economy.FlowsView,
  RakeByTable: Economy.RakeByTableView,
  ReservationOutcomes: Economy.ReservationOutcomesView,
  BiggestMovers: Economy.BiggestMoversView,
  DeadLetterPage: Operations.DeadLetterPage,
  DeadLetterRetried: Operations.DeadLetterRetried,
  VerificationJob: Operations.VerificationJobView,
  ArchiveStatus: Operations.ArchiveStatusView,
  AdminOverview: Operations.AdminOverview
} as const

describe("OpenAPI examples of the console's routes", () => {
  const schemas = (OpenApi.fromApi(BalanceApi) as { components: { schemas: Record<string, { examples?: Array<unknown> }> } }).components.schemas

  for (const [name, schema] of Object.entries(documented)) {
    it(`${name}: the document shows an example, and it is a valid answer`, () => {
      const examples = schemas[name]?.examples
      expect(examples?.length).toBeGreaterThan(0)
      for (const example of examples!) expect(() => Schema.decodeUnknownSync(schema as Schema.Codec<unknown, unknown>)(example)).not.toThrow()
    })
  }
})

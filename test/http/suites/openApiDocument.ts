import { Validator } from "@seriousme/openapi-schema-validator"
import { describe, expect, it } from "vitest"
import type { SuiteContext } from "../support/httpApiSuite.ts"

/** Every route of the table, as the document must list it. */
export const ROUTES: ReadonlyArray<readonly [method: string, path: string]> = [
  ["get", "/api/health"],
  ["get", "/api/ready"],
  ["post", "/api/accounts/{accountId}"],
  ["get", "/api/accounts/{accountId}/balance"],
  ["post", "/api/accounts/{accountId}/deposit"],
  ["post", "/api/accounts/{accountId}/withdraw"],
  ["get", "/api/accounts/{accountId}/transactions"],
  ["get", "/api/accounts/{accountId}/ledger"],
  ["get", "/api/accounts/{accountId}/reservations"],
  ["get", "/api/admin/accounts"],
  ["get", "/api/admin/reservations/{reservationId}"],
  ["get", "/api/admin/tables/{tableId}/stacks"],
  ["get", "/api/admin/tables/{tableId}/hands/{handId}/pot"],
  ["get", "/api/admin/transfers"],
  ["post", "/api/admin/ledger/verify"],
  ["get", "/api/admin/supply"],
  ["get", "/api/admin/overview"],
  ["get", "/api/admin/dead-letters"],
  ["post", "/api/admin/dead-letters/{queueId}/retry"],
  ["post", "/api/admin/ledger/verifications"],
  ["get", "/api/admin/ledger/verifications"],
  ["get", "/api/admin/ledger/verifications/{jobId}"],
  ["get", "/api/admin/archive"],
  ["get", "/api/admin/economy/supply"],
  ["get", "/api/admin/economy/flows"],
  ["get", "/api/admin/economy/rake"],
  ["get", "/api/admin/economy/reservations"],
  ["get", "/api/admin/economy/movers"]
]

interface Operation {
  readonly operationId: string
  readonly security?: ReadonlyArray<Record<string, ReadonlyArray<string>>>
  readonly parameters?: ReadonlyArray<{ readonly name: string; readonly in: string; readonly required?: boolean }>
  readonly responses: Record<string, unknown>
}

export const openApiDocument = ({ client }: SuiteContext) =>
  describe("OpenAPI document", () => {
    const fetchDocument = async () => {
      const reply = await client().anonymous.get("/api/openapi.json")
      expect(reply.status).toBe(200)
      return reply.body as { openapi: string; paths: Record<string, Record<string, Operation>>; components: { securitySchemes: Record<string, unknown> } }
    }

    it("is a valid OpenAPI 3.x document", async () => {
      const document = await fetchDocument()
      expect(document.openapi).toMatch(/^3\.\d+\.\d+$/)
      const result = await new Validator().validate(document)
      expect(result.errors ?? []).toEqual([])
      expect(result.valid).toBe(true)
    })

    it("lists every route, and nothing else", async () => {
      const document = await fetchDocument()
      const listed = Object.entries(document.paths).flatMap(([path, ops]) => Object.keys(ops).map((method) => [method, path] as const))
      expect([...listed].sort()).toEqual([...ROUTES].sort())
    })

    it("declares each path parameter, the auth schemes, and the error responses", async () => {
      const document = await fetchDocument()
      for (const [method, path] of ROUTES) {
        const op = document.paths[path]![method]!
        for (const name of [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1])) {
          expect(op.parameters?.some((p) => p.in === "path" && p.name === name && p.required === true)).toBe(true)
        }
        expect(Object.keys(op.responses)).toContain("400")
        if (path.startsWith("/api/accounts") || path.startsWith("/api/admin")) {
          expect(op.security).toEqual([{ bearer: [] }, { adminKey: [] }])
          expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(["401", "403"]))
        }
      }
      expect(document.paths["/api/accounts/{accountId}/deposit"]!["post"]!.parameters).toEqual(
        expect.arrayContaining([expect.objectContaining({ name: "idempotency-key", in: "header", required: true })])
      )
      expect(document.components.securitySchemes).toMatchObject({
        bearer: { type: "http", scheme: expect.stringMatching(/^bearer$/i) },
        adminKey: { type: "apiKey", in: "header", name: "X-Admin-Key" }
      })
    })

    it("serves a docs page for it at /api/docs", async () => {
      const reply = await client().anonymous.get("/api/docs")
      expect(reply.status).toBe(200)
      expect(reply.headers.get("content-type")).toContain("text/html")
      expect(reply.text).toContain("balance-service")
    })
  })

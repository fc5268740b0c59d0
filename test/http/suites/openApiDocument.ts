import { readFileSync } from "node:fs"
import { Validator } from "@seriousme/openapi-schema-validator"
import { Ajv2020 } from "ajv/dist/2020.js"
import { describe, expect, it } from "vitest"
import { HTTP_ONLY_CODES } from "../../../src/api/http/errorCodes.ts"
import { RefusalCode, REFUSALS } from "../../../src/domain/errors.ts"
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

/** Routes a player may call (their own account); every other route under /api/accounts and /api/admin is admin-only. */
const PLAYER_ROUTES: ReadonlyArray<readonly [method: string, path: string]> = [
  ["get", "/api/accounts/{accountId}/balance"],
  ["get", "/api/accounts/{accountId}/transactions"],
  ["get", "/api/accounts/{accountId}/ledger"],
  ["get", "/api/accounts/{accountId}/reservations"]
]
const isPlayerRoute = (method: string, path: string) => PLAYER_ROUTES.some(([m, p]) => m === method && p === path)
const isAuthenticated = (path: string) => path.startsWith("/api/accounts") || path.startsWith("/api/admin")

interface Media {
  readonly schema: Record<string, unknown>
  readonly example?: unknown
}
interface Response {
  readonly content?: Record<string, Media>
  readonly headers?: Record<string, { readonly required?: boolean; readonly schema: Record<string, unknown> }>
}
interface Operation {
  readonly operationId: string
  readonly security?: ReadonlyArray<Record<string, ReadonlyArray<string>>>
  readonly parameters?: ReadonlyArray<{ readonly name: string; readonly in: string; readonly required?: boolean }>
  readonly requestBody?: { readonly content: Record<string, Media> }
  readonly responses: Record<string, Response>
}
interface Document {
  readonly openapi: string
  readonly info: { readonly version: string }
  readonly paths: Record<string, Record<string, Operation>>
  readonly components: { readonly securitySchemes: Record<string, unknown>; readonly schemas: Record<string, unknown> }
}

const packageVersion = (JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as { version: string }).version

/** A component schema with every $ref resolved against the document (Ajv compiles it standalone). */
const validatorFor = (document: Document) => {
  const ajv = new Ajv2020({ strict: false, allErrors: true })
  ajv.addSchema({ $id: "doc", components: document.components }, "doc")
  return (schema: Record<string, unknown>) =>
    ajv.compile(JSON.parse(JSON.stringify(schema).replaceAll('"#/components/', '"doc#/components/')) as object)
}

export const openApiDocument = ({ client }: SuiteContext) =>
  describe("OpenAPI document", () => {
    const fetchDocument = async () => {
      const reply = await client().anonymous.get("/api/openapi.json")
      expect(reply.status).toBe(200)
      return reply.body as Document
    }
    const operations = async () => {
      const document = await fetchDocument()
      return { document, ops: ROUTES.map(([method, path]) => ({ method, path, op: document.paths[path]![method]! })) }
    }

    it("is a valid OpenAPI 3.x document, versioned as package.json", async () => {
      const document = await fetchDocument()
      expect(document.openapi).toMatch(/^3\.\d+\.\d+$/)
      const result = await new Validator().validate(document as unknown as Record<string, unknown>)
      expect(result.errors ?? []).toEqual([])
      expect(result.valid).toBe(true)
      expect(document.info.version).toBe(packageVersion)
    })

    it("lists every route, and nothing else", async () => {
      const document = await fetchDocument()
      const listed = Object.entries(document.paths).flatMap(([path, ops]) => Object.keys(ops).map((method) => [method, path] as const))
      expect([...listed].sort()).toEqual([...ROUTES].sort())
    })

    it("declares each path parameter, and the input errors only where there is input", async () => {
      const { document, ops } = await operations()
      for (const { method, path, op } of ops) {
        for (const name of [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1])) {
          expect(op.parameters?.some((p) => p.in === "path" && p.name === name && p.required === true)).toBe(true)
        }
        const statuses = Object.keys(op.responses)
        const where = `${method} ${path}`
        expect(statuses, where).toContain("500")
        if ((op.parameters?.length ?? 0) > 0 || op.requestBody !== undefined) expect(statuses, where).toContain("400")
        else expect(statuses, where).not.toContain("400")
        if (op.requestBody !== undefined) expect(statuses, where).toEqual(expect.arrayContaining(["413", "415"]))
        else expect(statuses, where).not.toEqual(expect.arrayContaining(["413"]))
      }
      for (const path of ["/api/health", "/api/ready"]) {
        expect(Object.keys(document.paths[path]!["get"]!.responses)).not.toEqual(expect.arrayContaining(["400"]))
        for (const status of ["400", "413", "415"]) expect(document.paths[path]!["get"]!.responses).not.toHaveProperty(status)
      }
      expect(document.paths["/api/accounts/{accountId}/deposit"]!["post"]!.parameters).toEqual(
        expect.arrayContaining([expect.objectContaining({ name: "idempotency-key", in: "header", required: true })])
      )
    })

    it("tells admin-only routes from player routes by their security schemes", async () => {
      const { document, ops } = await operations()
      expect(document.components.securitySchemes).toMatchObject({
        bearer: { type: "http", scheme: expect.stringMatching(/^bearer$/i) },
        adminBearer: { type: "http", scheme: expect.stringMatching(/^bearer$/i) },
        adminKey: { type: "apiKey", in: "header", name: "X-Admin-Key" }
      })
      for (const { method, path, op } of ops) {
        const where = `${method} ${path}`
        if (!isAuthenticated(path)) {
          expect(op.security ?? [], where).toEqual([])
          continue
        }
        expect(op.security, where).toEqual(isPlayerRoute(method, path) ? [{ bearer: [] }, { adminKey: [] }] : [{ adminBearer: [] }, { adminKey: [] }])
        expect(Object.keys(op.responses), where).toEqual(expect.arrayContaining(["401", "403"]))
      }
      expect(ops.filter(({ method, path }) => isAuthenticated(path) && !isPlayerRoute(method, path)).length).toBe(22)
    })

    it("enumerates the error codes of each status: every refusal code at its status, and the HTTP API's own", async () => {
      const { document, ops } = await operations()
      const validate = validatorFor(document)
      const codesAt = new Map<string, Set<string>>()
      for (const { op } of ops) {
        for (const [status, response] of Object.entries(op.responses)) {
          if (Number(status) < 400) continue
          const schema = response.content?.["application/json"]?.schema
          expect(schema, `${op.operationId} ${status}`).toBeDefined()
          const check = validate(schema!)
          // The code is an enum, not a free string: an unknown code does not validate.
          expect(check({ error: "SOMETHING_ELSE", message: "m" }), `${op.operationId} ${status}`).toBe(false)
          const codes = codesAt.get(status) ?? new Set<string>()
          for (const code of [...RefusalCode.literals, ...Object.values(HTTP_ONLY_CODES).flat()]) {
            if (check({ error: code, message: "m" })) codes.add(code)
          }
          codesAt.set(status, codes)
        }
      }
      for (const code of RefusalCode.literals) {
        const status = String(REFUSALS[code].http)
        expect([...(codesAt.get(status) ?? [])], `${code} at ${status}`).toContain(code)
      }
      for (const [status, codes] of Object.entries(HTTP_ONLY_CODES)) {
        for (const code of codes) expect([...(codesAt.get(status) ?? [])], `${code} at ${status}`).toContain(code)
      }
      expect([...codesAt.get("503")!].sort()).toEqual(["AUTH_UNAVAILABLE", "NOT_READY", "STORE_UNAVAILABLE"])
      expect([...codesAt.get("401")!]).not.toContain("INSUFFICIENT_BALANCE")
    })

    it("declares Retry-After on every 503", async () => {
      const { ops } = await operations()
      let seen = 0
      for (const { op } of ops) {
        const unavailable = op.responses["503"]
        if (unavailable === undefined) continue
        seen++
        expect(unavailable.headers?.["Retry-After"], op.operationId).toMatchObject({ required: true, schema: { type: "integer" } })
      }
      expect(seen).toBe(ROUTES.length - 1) // all but liveness
    })

    it("has a request example for every body and a response example for every operation, each valid against its schema", async () => {
      const { document, ops } = await operations()
      const validate = validatorFor(document)
      for (const { op } of ops) {
        const bodies = Object.values(op.requestBody?.content ?? {})
        for (const media of bodies) {
          expect(media.example, `${op.operationId} request`).toBeDefined()
          const check = validate(media.schema)
          expect(check(media.example), `${op.operationId} request: ${JSON.stringify(check.errors)}`).toBe(true)
        }
        const examples = Object.entries(op.responses)
          .filter(([status]) => Number(status) < 300)
          .flatMap(([status, r]) => Object.values(r.content ?? {}).filter((m) => m.example !== undefined).map((m) => [status, m] as const))
        expect(examples.length, `${op.operationId} response example`).toBeGreaterThan(0)
        for (const [status, media] of examples) {
          const check = validate(media.schema)
          expect(check(media.example), `${op.operationId} ${status}: ${JSON.stringify(check.errors)}`).toBe(true)
        }
      }
    })

    it("serves a docs page for it at /api/docs", async () => {
      const reply = await client().anonymous.get("/api/docs")
      expect(reply.status).toBe(200)
      expect(reply.headers.get("content-type")).toContain("text/html")
      expect(reply.text).toContain("balance-service")
    })
  })

import { readFileSync } from "node:fs"
import { Validator } from "@seriousme/openapi-schema-validator"
import { Ajv2020 } from "ajv/dist/2020.js"
import { assert, describe } from "@effect/vitest"
import { Effect } from "effect"
import { HTTP_ONLY_CODES } from "../../../src/api/http/errorCodes.ts"
import { RefusalCode, REFUSALS } from "../../../src/domain/errors.ts"
import { anonymous } from "../support/client.ts"
import type { HttpApiIt } from "../support/httpApiSuite.ts"

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

export const openApiDocument = (it: HttpApiIt) =>
  describe("OpenAPI document", () => {
    const fetchDocument = Effect.map(anonymous.get("/api/openapi.json"), (reply) => {
      assert.strictEqual(reply.status, 200)
      return reply.body as Document
    })
    const operations = Effect.map(fetchDocument, (document) => ({
      document,
      ops: ROUTES.map(([method, path]) => ({ method, path, op: document.paths[path]![method]! }))
    }))

    it.effect("is a valid OpenAPI 3.x document, versioned as package.json", () => Effect.gen(function*() {
      const document = yield* fetchDocument
      assert.match(document.openapi, /^3\.\d+\.\d+$/)
      const result = yield* Effect.promise(() => new Validator().validate(document as unknown as Record<string, unknown>))
      assert.deepStrictEqual(result.errors ?? [], [])
      assert.strictEqual(result.valid, true)
      assert.strictEqual(document.info.version, packageVersion)
    }))

    it.effect("lists every route, and nothing else", () => Effect.gen(function*() {
      const document = yield* fetchDocument
      const listed = Object.entries(document.paths).flatMap(([path, ops]) => Object.keys(ops).map((method) => [method, path] as const))
      assert.deepStrictEqual([...listed].sort(), [...ROUTES].sort())
    }))

    it.effect("declares each path parameter, and the input errors only where there is input", () => Effect.gen(function*() {
      const { document, ops } = yield* operations
      for (const { method, path, op } of ops) {
        for (const name of [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1])) {
          assert.strictEqual(op.parameters?.some((p) => p.in === "path" && p.name === name && p.required === true), true)
        }
        const statuses = Object.keys(op.responses)
        const where = `${method} ${path}`
        assert.include(statuses, "500", where)
        if ((op.parameters?.length ?? 0) > 0 || op.requestBody !== undefined) assert.include(statuses, "400", where)
        else assert.notInclude(statuses, "400", where)
        if (op.requestBody !== undefined) assert.includeMembers(statuses, ["413", "415"], where)
        else assert.notInclude(statuses, "413", where)
      }
      for (const path of ["/api/health", "/api/ready"]) {
        assert.notInclude(Object.keys(document.paths[path]!["get"]!.responses), "400")
        for (const status of ["400", "413", "415"]) assert.notProperty(document.paths[path]!["get"]!.responses, status)
      }
      const depositParameters = document.paths["/api/accounts/{accountId}/deposit"]!["post"]!.parameters ?? []
      assert.containSubset(depositParameters.find((p) => p.name === "idempotency-key"), { in: "header", required: true })
    }))

    it.effect("tells admin-only routes from player routes by their security schemes", () => Effect.gen(function*() {
      const { document, ops } = yield* operations
      const schemes = document.components.securitySchemes
      assert.containSubset(schemes, {
        bearer: { type: "http" },
        adminBearer: { type: "http" },
        adminKey: { type: "apiKey", in: "header", name: "X-Admin-Key" }
      })
      assert.match((schemes.bearer as { scheme: string }).scheme, /^bearer$/i)
      assert.match((schemes.adminBearer as { scheme: string }).scheme, /^bearer$/i)
      for (const { method, path, op } of ops) {
        const where = `${method} ${path}`
        if (!isAuthenticated(path)) {
          assert.deepStrictEqual(op.security ?? [], [], where)
          continue
        }
        assert.deepStrictEqual(op.security, isPlayerRoute(method, path) ? [{ bearer: [] }, { adminKey: [] }] : [{ adminBearer: [] }, { adminKey: [] }], where)
        assert.includeMembers(Object.keys(op.responses), ["401", "403"], where)
      }
      assert.strictEqual(ops.filter(({ method, path }) => isAuthenticated(path) && !isPlayerRoute(method, path)).length, 22)
    }))

    it.effect("enumerates the error codes of each status: every refusal code at its status, and the HTTP API's own", () => Effect.gen(function*() {
      const { document, ops } = yield* operations
      const validate = validatorFor(document)
      const codesAt = new Map<string, Set<string>>()
      for (const { op } of ops) {
        for (const [status, response] of Object.entries(op.responses)) {
          if (Number(status) < 400) continue
          const schema = response.content?.["application/json"]?.schema
          assert.isDefined(schema, `${op.operationId} ${status}`)
          const check = validate(schema!)
          // The code is an enum, not a free string: an unknown code does not validate.
          assert.strictEqual(check({ error: "SOMETHING_ELSE", message: "m" }), false, `${op.operationId} ${status}`)
          const codes = codesAt.get(status) ?? new Set<string>()
          for (const code of [...RefusalCode.literals, ...Object.values(HTTP_ONLY_CODES).flat()]) {
            if (check({ error: code, message: "m" })) codes.add(code)
          }
          codesAt.set(status, codes)
        }
      }
      for (const code of RefusalCode.literals) {
        const status = String(REFUSALS[code].http)
        assert.include([...(codesAt.get(status) ?? [])], code, `${code} at ${status}`)
      }
      for (const [status, codes] of Object.entries(HTTP_ONLY_CODES)) {
        for (const code of codes) assert.include([...(codesAt.get(status) ?? [])], code, `${code} at ${status}`)
      }
      assert.deepStrictEqual([...codesAt.get("503")!].sort(), ["AUTH_UNAVAILABLE", "NOT_READY", "STORE_UNAVAILABLE"])
      assert.notInclude([...codesAt.get("401")!], "INSUFFICIENT_BALANCE")
    }))

    it.effect("declares Retry-After on every 503", () => Effect.gen(function*() {
      const { ops } = yield* operations
      let seen = 0
      for (const { op } of ops) {
        const unavailable = op.responses["503"]
        if (unavailable === undefined) continue
        seen++
        assert.containSubset(unavailable.headers?.["Retry-After"], { required: true, schema: { type: "integer" } }, op.operationId)
      }
      assert.strictEqual(seen, ROUTES.length - 1) // all but liveness
    }))

    it.effect("has a request example for every body and a response example for every operation, each valid against its schema", () => Effect.gen(function*() {
      const { document, ops } = yield* operations
      const validate = validatorFor(document)
      for (const { op } of ops) {
        const bodies = Object.values(op.requestBody?.content ?? {})
        for (const media of bodies) {
          assert.isDefined(media.example, `${op.operationId} request`)
          const check = validate(media.schema)
          assert.strictEqual(check(media.example), true, `${op.operationId} request: ${JSON.stringify(check.errors)}`)
        }
        const examples = Object.entries(op.responses)
          .filter(([status]) => Number(status) < 300)
          .flatMap(([status, r]) => Object.values(r.content ?? {}).filter((m) => m.example !== undefined).map((m) => [status, m] as const))
        assert.isAbove(examples.length, 0, `${op.operationId} response example`)
        for (const [status, media] of examples) {
          const check = validate(media.schema)
          assert.strictEqual(check(media.example), true, `${op.operationId} ${status}: ${JSON.stringify(check.errors)}`)
        }
      }
    }))

    it.effect("serves a docs page for it at /api/docs", () => Effect.gen(function*() {
      const reply = yield* anonymous.get("/api/docs")
      assert.strictEqual(reply.status, 200)
      assert.include(reply.headers.get("content-type"), "text/html")
      assert.include(reply.text, "balance-service")
    }))
  })

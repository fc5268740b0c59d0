import type { OpenApi } from "effect/http-api"
import { RETRY_AFTER_SECONDS } from "./ApiErrors.ts"
import { encodeExample, OPERATION_EXAMPLES } from "./openApiExamples.ts"

type Spec = Record<string, any>

const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"] as const

/**
 * What the generator cannot derive from the endpoints, added to every
 * operation of the generated document: the request and response examples
 * (OPERATION_EXAMPLES; an operation without one fails the build of the
 * document, and so its test) and the Retry-After header that every 503 carries.
 */
export const finishDocument = (spec: Spec): Spec => {
  for (const pathItem of Object.values(spec.paths as Record<string, Partial<Record<string, OpenApi.OpenAPISpecOperation>>>)) {
    for (const method of METHODS) {
      const op = pathItem[method] as (OpenApi.OpenAPISpecOperation & Spec) | undefined
      if (op === undefined) continue
      const examples = OPERATION_EXAMPLES[op.operationId]
      if (examples === undefined) throw new Error(`OpenAPI: no example for ${op.operationId}`)
      if (examples.request !== undefined) {
        const media = op.requestBody?.content["application/json"] as Spec | undefined
        if (media === undefined) throw new Error(`OpenAPI: ${op.operationId} has a request example but no JSON body`)
        media.example = encodeExample(examples.request)
      }
      const response = op.responses[examples.response.status]?.content?.["application/json"] as Spec | undefined
      if (response === undefined) throw new Error(`OpenAPI: ${op.operationId} has no JSON ${examples.response.status} response`)
      response.example = encodeExample(examples.response.body)

      const unavailable = op.responses["503"] as Spec | undefined
      if (unavailable !== undefined) {
        unavailable.headers = {
          ...unavailable.headers,
          "Retry-After": {
            description: "Seconds to wait before retrying",
            required: true,
            schema: { type: "integer", minimum: 1, examples: [RETRY_AFTER_SECONDS] }
          }
        }
      }
    }
  }
  return spec
}

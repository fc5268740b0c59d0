import { SchemaIssue } from "effect"
import type { HttpApiError } from "effect/http-api"
import { BadRequest, InternalError } from "./ApiErrors.ts"
import type { ErrorCodeAt } from "./errorCodes.ts"

export interface FieldIssue {
  /** Where the value was: path parameter, query string, header or JSON body. */
  readonly in: "path" | "query" | "header" | "body"
  /** Dotted path inside that location ("amount", "winners.0.seatId"); "" for the whole body. */
  readonly path: string
  readonly message: string
}

const LOCATION = { Params: "path", Query: "query", Headers: "header", Payload: "body" } as const

// Say what is wrong with the field rather than Schema's generic wording.
const formatter = SchemaIssue.makeFormatterStandardSchemaV1({
  leafHook: (issue) => {
    switch (issue._tag) {
      case "MissingKey":
        return "is required"
      case "UnexpectedKey":
        return "is not a known field"
      default:
        return SchemaIssue.defaultLeafHook(issue)
    }
  }
})

const CODE_BY_FIELD: Readonly<Record<string, ErrorCodeAt<400>>> = {
  amount: "INVALID_AMOUNT",
  initialBalance: "INVALID_AMOUNT",
  accountId: "INVALID_ACCOUNT_ID",
  tableId: "INVALID_TABLE_ID",
  handId: "INVALID_HAND_ID",
  reservationId: "INVALID_RESERVATION_ID",
  reason: "INVALID_REASON",
  source: "INVALID_REASON",
  cursor: "INVALID_CURSOR"
}

const codeOf = (issue: FieldIssue): ErrorCodeAt<400> => {
  if (issue.in === "header" && issue.path === "idempotency-key") {
    return issue.message === "is required" ? "MISSING_IDEMPOTENCY_KEY" : "INVALID_IDEMPOTENCY_KEY"
  }
  if (issue.in === "body" && issue.path === "") return "INVALID_BODY"
  const last = issue.path.split(".").pop() ?? ""
  return CODE_BY_FIELD[last] ?? "INVALID_ARGUMENT"
}

/** Every issue of a request that failed decoding, with where it was and why. */
export const fieldIssues = (error: HttpApiError.HttpApiSchemaError): ReadonlyArray<FieldIssue> => {
  const location = LOCATION[error.kind as keyof typeof LOCATION] ?? "body"
  return formatter(error.cause.issue).issues.map((i) => ({
    in: location,
    path: (i.path ?? []).map((s) => String(typeof s === "object" ? s.key : s)).join("."),
    message: i.message
  }))
}

/**
 * A request that failed decoding becomes a 400 naming the field; a response
 * that failed encoding is our bug and becomes a bare 500.
 */
export const fromSchemaError = (error: HttpApiError.HttpApiSchemaError): BadRequest | InternalError => {
  if (!(error.kind in LOCATION)) {
    return new InternalError({ error: "INTERNAL", message: "the server could not encode its response" })
  }
  const issues = fieldIssues(error)
  const first = issues[0] ?? { in: "body" as const, path: "", message: "invalid request" }
  const where = first.path === "" ? (first.in === "body" ? "body" : first.in) : first.path
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more issue${issues.length > 2 ? "s" : ""})` : ""
  return new BadRequest({
    error: codeOf(first),
    message: `${where}: ${first.message}${more}`,
    details: { issues }
  })
}

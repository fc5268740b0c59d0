/**
 * `npm run grpc -- <Method> '<json request>'`: a gRPC client for trying the API by hand
 * (grpcurl works too, through reflection). Runs on the pinned Node 24 through npm.
 *
 *   npm run grpc -- GetBalance '{"account_id":"alice"}'
 *   npm run grpc -- Deposit '{"account_id":"alice","amount":"250","idempotency_key":"promo-42","source":"PROMO"}'
 *   npm run grpc -- WatchAccount '{"account_id":"alice"}'      # one line per change until Ctrl-C
 *
 * Request fields as in proto/balance.proto, snake_case or camelCase; int64 values as strings
 * (numbers are accepted up to 2^53-1). Every value is checked against its field's type first
 * (an amount "25.5" is refused, not sent as 25). The response is printed as one line of JSON in the proto3
 * JSON mapping, as grpcurl prints it: camelCase, int64 as strings, fields at their default omitted.
 *
 * Environment:
 *   GRPC_TARGET      host:port (default 127.0.0.1:$GRPC_PORT, GRPC_PORT default 50051)
 *   GRPC_AUTH_TOKEN  the game's token, sent as `authorization: Bearer <token>`
 *   ADMIN_API_KEY    sent as `x-admin-key` on Deposit, Withdraw and EnsureAccount; unset: read from
 *                    $DATA_DIR/admin-api-key (default .data/admin-api-key, where `npm start` generates it)
 *
 * Exit status: 0 answered, 1 the call failed (gRPC status on stderr), 2 bad usage.
 */
import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import * as grpc from "@grpc/grpc-js"
import * as protoLoader from "@grpc/proto-loader"
import { ADMIN_METHODS } from "../src/api/grpc/callAuth.ts"
import { BALANCE_SERVICE, LOADER_OPTIONS, PROTO_FILES } from "../src/api/grpc/protoDefinition.ts"

// biome-ignore lint: descriptor and wire objects are untyped here
type Json = any

/**
 * The proto3 JSON mapping: camelCase, int64 and enums as strings, defaults left out (as grpcurl
 * prints). No oneof markers: with `oneofs` protobufjs adds a virtual `_reason: "reason"` for
 * every proto3 `optional` field that is set, which is no field of the message.
 */
const definition = protoLoader.loadSync([...PROTO_FILES], { ...LOADER_OPTIONS, defaults: false, oneofs: false })
const service = definition[BALANCE_SERVICE] as grpc.ServiceDefinition
const methods = Object.keys(service)

const usage = () =>
  [
    "usage: npm run grpc -- <Method> '<json request>'",
    "",
    `methods: ${methods.join(", ")}`,
    "example: npm run grpc -- GetBalance '{\"account_id\":\"alice\"}'",
    "",
    "GRPC_TARGET (default 127.0.0.1:50051), GRPC_AUTH_TOKEN (the game's token), ADMIN_API_KEY (default: the",
    "key file .data/admin-api-key, or $DATA_DIR/admin-api-key) are read from the environment."
  ].join("\n")

class UsageError extends Error {}

const camel = (name: string) => name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase())

/** The message type `name` (e.g. "PotWinner", relative to the package) as loaded. */
const messageType = (name: string): Json => definition[`balance.${name.replace(/^\.?balance\./, "")}`] as Json

const INT64 = new Set(["TYPE_INT64", "TYPE_SINT64", "TYPE_SFIXED64", "TYPE_UINT64", "TYPE_FIXED64"])
const INT32 = new Set(["TYPE_INT32", "TYPE_SINT32", "TYPE_SFIXED32", "TYPE_UINT32", "TYPE_FIXED32"])
const UNSIGNED = new Set(["TYPE_UINT64", "TYPE_FIXED64", "TYPE_UINT32", "TYPE_FIXED32"])

/**
 * A scalar checked against its proto type before protobufjs sees it: protobufjs converts
 * whatever it gets (an int64 "25.5" becomes 25, "1e3" becomes 1, an int32 1.5 becomes 1, a bool
 * "false" becomes true), so a typo would be sent as another number than the one written.
 */
const scalar = (v: Json, type: string, path: string): Json => {
  if (INT64.has(type) || INT32.has(type)) {
    const text = typeof v === "number" && Number.isSafeInteger(v) ? String(v) : typeof v === "string" ? v : undefined
    const bits = INT64.has(type) ? 64n : 32n
    const unsigned = UNSIGNED.has(type)
    const [min, max] = unsigned ? [0n, 2n ** bits - 1n] : [-(2n ** (bits - 1n)), 2n ** (bits - 1n) - 1n]
    if (text === undefined || !/^-?[0-9]+$/.test(text) || BigInt(text) < min || BigInt(text) > max) {
      throw new UsageError(
        `${path} must be a whole number${INT64.has(type) ? ` as a string, e.g. "250"` : ", e.g. 1"} ` +
          `between ${min} and ${max}, not ${JSON.stringify(v)}`
      )
    }
    return INT64.has(type) ? text : Number(text)
  }
  if (type === "TYPE_BOOL" && typeof v !== "boolean") throw new UsageError(`${path} must be true or false, not ${JSON.stringify(v)}`)
  if (type === "TYPE_STRING" && typeof v !== "string") throw new UsageError(`${path} must be a JSON string, not ${JSON.stringify(v)}`)
  if ((type === "TYPE_DOUBLE" || type === "TYPE_FLOAT") && typeof v !== "number") {
    throw new UsageError(`${path} must be a number, not ${JSON.stringify(v)}`)
  }
  return v
}

/**
 * The request in the loader's camelCase, every field checked against the message: a misspelt
 * field would otherwise be dropped silently and the call made without it.
 */
const normalize = (value: Json, typeName: string, path: string): Json => {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new UsageError(`${path || "the request"} must be a JSON object (${typeName})`)
  }
  const fields: Array<Json> = messageType(typeName)?.type?.field ?? []
  const out: Record<string, Json> = {}
  for (const [key, v] of Object.entries(value)) {
    const name = camel(key)
    const field = fields.find((f) => f.name === name)
    if (field === undefined) {
      const known = fields.map((f) => f.name.replace(/[A-Z]/g, (c: string) => `_${c.toLowerCase()}`)).join(", ")
      throw new UsageError(`${typeName} has no field ${path}${key} (fields: ${known})`)
    }
    const nested = field.type === "TYPE_MESSAGE" && messageType(field.typeName) !== undefined ? field.typeName as string : undefined
    if (nested === undefined && field.label === "LABEL_REPEATED" && v !== null) {
      if (!Array.isArray(v)) throw new UsageError(`${path}${key} must be a JSON array`)
      out[name] = v.map((item, i) => scalar(item, field.type as string, `${path}${key}[${i}]`))
    } else if (nested === undefined) out[name] = v === null ? v : scalar(v, field.type as string, `${path}${key}`)
    else if (v === null) out[name] = v
    else if (field.label === "LABEL_REPEATED") {
      if (!Array.isArray(v)) throw new UsageError(`${path}${key} must be a JSON array`)
      out[name] = v.map((item, i) => normalize(item, nested, `${path}${key}[${i}].`))
    } else out[name] = normalize(v, nested, `${path}${key}.`)
  }
  return out
}

/** Scalars at their proto3 default: "0" (int64 as string), 0, false, "". */
const isDefaultScalar = (v: unknown) => v === "0" || v === 0 || v === false || v === ""

/**
 * The proto3 JSON mapping leaves out fields at their default (grpcurl does), but protobufjs decodes
 * what the server wrote, defaults included: drop them. (The loaded descriptors do not say which
 * fields are `optional`, so an optional field set to its default is left out too.)
 */
const proto3Json = (value: Json, typeName: string): Json => {
  const fields: Array<Json> = messageType(typeName)?.type?.field ?? []
  const out: Record<string, Json> = {}
  for (const [name, v] of Object.entries(value as Record<string, Json>)) {
    const field = fields.find((f) => f.name === name)
    const nested = field?.type === "TYPE_MESSAGE" && messageType(field.typeName) !== undefined ? field.typeName as string : undefined
    if (v === null || v === undefined) continue
    if (Array.isArray(v)) {
      if (v.length > 0) out[name] = nested === undefined ? v : v.map((item) => proto3Json(item, nested))
    } else if (nested !== undefined) out[name] = proto3Json(v, nested)
    else if (typeof v === "object") {
      if (Object.keys(v).length > 0) out[name] = v // a map
    } else if (!isDefaultScalar(v)) out[name] = v
  }
  return out
}

const parseRequest = (method: string, body: string): Json => {
  let parsed: unknown
  try {
    parsed = JSON.parse(body)
  } catch (e) {
    throw new UsageError(
      `the request is not valid JSON (${e instanceof Error ? e.message : String(e)}); ` +
        `give one JSON object in single quotes, e.g. '{"account_id":"alice"}'`
    )
  }
  return normalize(parsed, (service[method] as Json).requestType.type.name as string, "")
}

const responseType = (method: string): string => (service[method] as Json).responseType.type.name as string

/** The admin key: ADMIN_API_KEY, else the file `npm start` generates under DATA_DIR. */
const adminKey = (): string | undefined => {
  if (process.env.ADMIN_API_KEY) return process.env.ADMIN_API_KEY
  const file = join(process.env.DATA_DIR || ".data", "admin-api-key")
  return existsSync(file) ? readFileSync(file, "utf8").trim() : undefined
}

const metadataFor = (method: string): grpc.Metadata => {
  const metadata = new grpc.Metadata()
  if (process.env.GRPC_AUTH_TOKEN) metadata.set("authorization", `Bearer ${process.env.GRPC_AUTH_TOKEN}`)
  const key = ADMIN_METHODS.has(method) ? adminKey() : undefined
  if (key !== undefined) metadata.set("x-admin-key", key)
  return metadata
}

const target = process.env.GRPC_TARGET || `127.0.0.1:${process.env.GRPC_PORT || "50051"}`

const failed = (error: grpc.ServiceError) => {
  const hint = error.code === grpc.status.UNAVAILABLE ? ` (is the service listening on ${target}? set GRPC_TARGET)` : ""
  console.error(`${grpc.status[error.code] ?? error.code}: ${error.details}${hint}`)
}

const main = () => {
  const [method, body = "{}", ...extra] = process.argv.slice(2)
  if (method === undefined || method === "--help" || method === "-h") {
    console.error(usage())
    return process.exit(method === undefined ? 2 : 0)
  }
  if (!methods.includes(method)) throw new UsageError(`unknown method ${method}; the methods are ${methods.join(", ")}`)
  if (extra.length > 0) throw new UsageError(`one JSON argument expected, got ${extra.length + 1} (quote the JSON)`)
  const request = parseRequest(method, body)

  const Client = grpc.makeClientConstructor(service, BALANCE_SERVICE)
  const client = new Client(target, grpc.credentials.createInsecure()) as grpc.Client & Json
  if (service[method]!.responseStream) {
    const stream = client[method](request, metadataFor(method)) as grpc.ClientReadableStream<Json>
    stream.on("data", (m: Json) => console.log(JSON.stringify(proto3Json(m, responseType(method)))))
    stream.on("error", (e: grpc.ServiceError) => {
      if (e.code !== grpc.status.CANCELLED) failed(e)
      process.exit(e.code === grpc.status.CANCELLED ? 0 : 1)
    })
    stream.on("end", () => client.close())
    process.on("SIGINT", () => stream.cancel())
    return
  }
  client[method](request, metadataFor(method), { deadline: Date.now() + 10_000 }, (error: grpc.ServiceError | null, response: Json) => {
    client.close()
    if (error) {
      failed(error)
      process.exit(1)
    }
    console.log(JSON.stringify(proto3Json(response, responseType(method))))
  })
}

try {
  main()
} catch (e) {
  if (!(e instanceof UsageError)) throw e
  console.error(`${e.message}\n(npm run grpc without arguments shows the usage)`)
  process.exit(2)
}

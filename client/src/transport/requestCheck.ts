import type * as grpc from "@grpc/grpc-js"

// biome-ignore lint: proto-loader's descriptor objects are untyped
type Descriptor = any

const INT64 = new Set(["TYPE_INT64", "TYPE_SINT64", "TYPE_SFIXED64", "TYPE_UINT64", "TYPE_FIXED64"])
const INT32 = new Set(["TYPE_INT32", "TYPE_SINT32", "TYPE_SFIXED32", "TYPE_UINT32", "TYPE_FIXED32"])
const UNSIGNED = new Set(["TYPE_UINT64", "TYPE_FIXED64", "TYPE_UINT32", "TYPE_FIXED32"])

/** Why `v` does not fit an integer field of `type`, or undefined when it does. */
const integerProblem = (v: unknown, type: string): string | undefined => {
  const wide = INT64.has(type)
  const text = typeof v === "number" && Number.isSafeInteger(v) ? String(v) : wide && typeof v === "string" ? v : undefined
  const bits = wide ? 64n : 32n
  const [min, max] = UNSIGNED.has(type) ? [0n, 2n ** bits - 1n] : [-(2n ** (bits - 1n)), 2n ** (bits - 1n) - 1n]
  if (text !== undefined && /^-?[0-9]+$/.test(text) && BigInt(text) >= min && BigInt(text) <= max) return undefined
  return `must be a whole number${wide ? " (a safe integer, or its decimal string)" : ""}, not ${typeof v === "string" ? JSON.stringify(v) : String(v)}`
}

/**
 * The first integer field of a request that its type cannot hold, as `field: why`. protobufjs
 * converts whatever it is given on the way to the wire (an amount 25.5 is sent as 25, "12abc"
 * as 12, an int32 1.5 as 1): the service would apply another number than the game meant, and
 * could not tell. Such a request is refused here, before anything is sent.
 */
export const requestProblem = (
  messages: (typeName: string) => Descriptor | undefined,
  typeName: string,
  request: unknown,
  path = ""
): string | undefined => {
  const fields: Array<Descriptor> = messages(typeName)?.type?.field ?? []
  if (typeof request !== "object" || request === null) return undefined
  for (const field of fields) {
    const value = (request as Record<string, unknown>)[field.name]
    if (value === undefined || value === null) continue
    const name = `${path}${field.name}`
    const items: Array<readonly [unknown, string]> = field.label === "LABEL_REPEATED" && Array.isArray(value)
      ? value.map((v, i) => [v, `${name}[${i}]`] as const)
      : [[value, name]]
    for (const [v, at] of items) {
      if (field.type === "TYPE_MESSAGE") {
        const nested = requestProblem(messages, field.typeName, v, `${at}.`)
        if (nested !== undefined) return nested
      } else if (INT64.has(field.type) || INT32.has(field.type)) {
        const problem = integerProblem(v, field.type)
        if (problem !== undefined) return `${at}: ${problem}`
      }
    }
  }
  return undefined
}

/** The request message's type name of a method in a service definition (e.g. "ReserveForBuyInRequest"). */
export const requestTypeOf = (definition: grpc.MethodDefinition<unknown, unknown>): string =>
  (definition as Descriptor).requestType.type.name as string

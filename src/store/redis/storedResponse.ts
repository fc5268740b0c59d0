import type { ResultByOp, SettlementPayout } from "../../domain/responses.ts"

/**
 * The response kept in a compact idempotency record, smaller than its JSON (issue: records of at
 * most 250 bytes): field names become one-character codes and lowercase UUIDs (transaction and
 * reservation ids) their 16 bytes in base64url. `decodeStoredResponse` gives back exactly the JSON
 * the first call answered (JSON.stringify of the same object: same keys in the same order), so a
 * replay answers byte for byte as before.
 *
 * Records live for the idempotency TTL (24 h) across deploys: a code once given never changes
 * meaning. Add new fields at the end with new codes; test/store/storedResponse.test.ts pins the table.
 *
 * Form: "~" then JSON in which
 *  - an object whose fields all have codes is an array: the string of their codes in order, then
 *    their values (`{"transactionId":"…","newBalance":5}` -> `["ai","…",5]`); an object with a
 *    field outside the table stays an object, every key written "_" + its name;
 *  - an array is an array whose first element is 0 (`[0, item, item]`), so it is never read as an object;
 *  - a string that was a lowercase UUID is "~" + base64url of its 16 bytes, a string that began
 *    with "~" gets one more "~"; numbers, booleans and null are as in JSON.
 * A stored response not starting with "~" is plain JSON (hash records, and compact records
 * written before this encoding): returned as it is.
 */

type Fields<T> = T extends ReadonlyArray<infer I> ? Fields<I> : T extends object ? keyof T | Fields<T[keyof T]> : never
type ResponseField = Fields<ResultByOp[keyof ResultByOp]> | keyof SettlementPayout

/** Every field of every response (the compiler checks none is missing), with its code. Append only. */
export const RESPONSE_FIELD_CODES = {
  transactionId: "a",
  accountId: "b",
  amount: "c",
  balance: "d",
  availableBalance: "e",
  created: "f",
  reservationId: "g",
  expiresAt: "h",
  newBalance: "i",
  status: "j",
  expired: "k",
  lateByMs: "l",
  totalPot: "m",
  seatContribution: "n",
  stack: "o",
  results: "p",
  seatId: "q",
  rake: "r",
  normalised: "s",
  refunds: "t"
} as const satisfies Record<ResponseField, string>

const codeOf: ReadonlyMap<string, string> = new Map(Object.entries(RESPONSE_FIELD_CODES))
const fieldOf: ReadonlyMap<string, string> = new Map(Object.entries(RESPONSE_FIELD_CODES).map(([field, code]) => [code, field]))

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

const packString = (s: string): string => {
  if (s.length === 36 && UUID.test(s)) return `~${Buffer.from(s.replaceAll("-", ""), "hex").toString("base64url")}`
  return s.charCodeAt(0) === 126 /* ~ */ ? `~${s}` : s
}

const unpackString = (s: string): string => {
  if (s.charCodeAt(0) !== 126) return s
  if (s.charCodeAt(1) === 126) return s.slice(1)
  const hex = Buffer.from(s.slice(1), "base64url").toString("hex")
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}

const pack = (value: unknown): string => {
  if (typeof value === "string") return JSON.stringify(packString(value))
  if (Array.isArray(value)) {
    let out = "[0"
    for (const item of value) out += `,${item === undefined ? "null" : pack(item)}`
    return `${out}]`
  }
  if (value !== null && typeof value === "object") {
    const fields = Object.keys(value).filter((key) => (value as Record<string, unknown>)[key] !== undefined)
    let codes = ""
    for (const key of fields) {
      const code = codeOf.get(key)
      if (code === undefined) {
        return `{${fields.map((k) => `${JSON.stringify(`_${k}`)}:${pack((value as Record<string, unknown>)[k])}`).join(",")}}`
      }
      codes += code
    }
    let out = `[${JSON.stringify(codes)}`
    for (const key of fields) out += `,${pack((value as Record<string, unknown>)[key])}`
    return `${out}]`
  }
  return JSON.stringify(value)
}

const unpack = (value: unknown): unknown => {
  if (typeof value === "string") return unpackString(value)
  if (Array.isArray(value)) {
    if (typeof value[0] !== "string") return value.slice(1).map(unpack)
    const codes = value[0]
    const out: Record<string, unknown> = {}
    for (let i = 0; i < codes.length; i++) out[fieldOf.get(codes[i]!)!] = unpack(value[i + 1])
    return out
  }
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {}
    for (const [key, v] of Object.entries(value)) out[key.slice(1)] = unpack(v)
    return out
  }
  return value
}

/** The compact form of a response object (what JSON.stringify would give for it, smaller). */
export const encodeStoredResponse = (response: unknown): string => `~${pack(response)}`

/** The response JSON the first call answered, from either form. */
export const decodeStoredResponse = (stored: string): string =>
  stored.charCodeAt(0) === 126 ? JSON.stringify(unpack(JSON.parse(stored.slice(1)))) : stored

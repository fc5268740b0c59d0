import { Schema } from "effect"

/**
 * Chips are integers. Every amount that crosses a boundary is a safe integer so
 * that no arithmetic here ever rounds; wire int64 values arrive as strings and
 * are checked digit by digit before they become numbers.
 */
// Range before integrality: isInt also refuses unsafe integers, and 2^53 deserves "too large", not "not an integer".
export const Chips = Schema.Number.check(
  Schema.isGreaterThan(0, { message: "amount must be greater than 0" }),
  Schema.isLessThanOrEqualTo(Number.MAX_SAFE_INTEGER, { message: "amount must be at most 9007199254740991" }),
  Schema.isInt({ message: "amount must be an integer" })
)
export type Chips = typeof Chips.Type

export const ChipsOrZero = Schema.Number.check(
  Schema.isGreaterThanOrEqualTo(0, { message: "amount must not be negative" }),
  Schema.isLessThanOrEqualTo(Number.MAX_SAFE_INTEGER, { message: "amount must be at most 9007199254740991" }),
  Schema.isInt({ message: "amount must be an integer" })
)

export type Int64Parse =
  | { readonly _tag: "ok"; readonly value: number }
  | { readonly _tag: "invalid"; readonly reason: string }

/**
 * Reads an int64 that the wire delivered as a string (or a number from JSON).
 * Refuses fractions, exponents, and anything beyond Number.MAX_SAFE_INTEGER
 * instead of rounding it.
 */
export const parseInt64 = (input: unknown): Int64Parse => {
  if (typeof input === "number") {
    if (!Number.isFinite(input) || !Number.isInteger(input)) return { _tag: "invalid", reason: "must be an integer" }
    if (!Number.isSafeInteger(input)) return { _tag: "invalid", reason: "must be at most 9007199254740991 in magnitude" }
    return { _tag: "ok", value: input }
  }
  if (typeof input === "bigint") {
    if (input > BigInt(Number.MAX_SAFE_INTEGER) || input < -BigInt(Number.MAX_SAFE_INTEGER)) {
      return { _tag: "invalid", reason: "must be at most 9007199254740991 in magnitude" }
    }
    return { _tag: "ok", value: Number(input) }
  }
  if (typeof input !== "string") return { _tag: "invalid", reason: "must be an integer" }
  const s = input.trim()
  if (s === "") return { _tag: "ok", value: 0 }
  if (!/^-?\d+$/.test(s)) return { _tag: "invalid", reason: "must be an integer" }
  const big = BigInt(s)
  if (big > BigInt(Number.MAX_SAFE_INTEGER) || big < -BigInt(Number.MAX_SAFE_INTEGER)) {
    return { _tag: "invalid", reason: "must be at most 9007199254740991 in magnitude" }
  }
  return { _tag: "ok", value: Number(big) }
}

import { createHash } from "node:crypto"
import type { Command } from "./commands.ts"

const canonical = (value: unknown): string => {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`
  if (value !== null && typeof value === "object") {
    const o = value as Record<string, unknown>
    return `{${Object.keys(o).filter((k) => o[k] !== undefined).sort().map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`).join(",")}}`
  }
  return JSON.stringify(value)
}

/** Identifies a request independently of field order, so a retry matches and a different request does not. */
export const fingerprint = (command: Command): string => createHash("sha256").update(canonical(command)).digest("hex")

/**
 * How many leading characters of two fingerprints are compared: 128 bits of SHA-256. Compact
 * idempotency records (IDEMPOTENCY_RECORDS=compact) keep only these; two different requests under
 * the same key agreeing on them is out of reach.
 */
export const FINGERPRINT_COMPARED = 32

export const sameFingerprint = (a: string, b: string): boolean =>
  a.slice(0, FINGERPRINT_COMPARED) === b.slice(0, FINGERPRINT_COMPARED)

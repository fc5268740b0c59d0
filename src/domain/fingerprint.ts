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

/**
 * The compared part of a fingerprint (its first 128 bits) as 22 base64url characters, as compact
 * idempotency records keep it (10 characters fewer than hex).
 */
export const compactFingerprint = (fingerprint: string): string =>
  Buffer.from(fingerprint.slice(0, FINGERPRINT_COMPARED), "hex").toString("base64url")

/** A fingerprint as a record holds it (hex, or compact base64url) as hex: what sameFingerprint compares. */
export const hexFingerprint = (stored: string): string =>
  stored.length === 22 ? Buffer.from(stored, "base64url").toString("hex") : stored

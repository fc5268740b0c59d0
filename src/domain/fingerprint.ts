import { hash } from "node:crypto"
import type { Command } from "./commands.ts"

/** Object keys as JSON, each made once: commands use a handful of field names (bounded, should input ever bring others). */
const quotedKeys = new Map<string, string>()
const quoted = (key: string): string => {
  let q = quotedKeys.get(key)
  if (q === undefined) {
    q = JSON.stringify(key)
    if (quotedKeys.size < 1_000) quotedKeys.set(key, q)
  }
  return q
}

/**
 * Sorted keys, undefined fields left out, JSON for values. Built by concatenation: this runs on
 * every idempotent call, and the same text with map/filter/join cost nearly twice as much. Its
 * output must never change (stored idempotency records hold its hash): test/domain pins it.
 */
const canonical = (value: unknown): string => {
  if (Array.isArray(value)) {
    let out = "["
    // As Array.join writes them: an undefined element (JSON.stringify gives undefined) as nothing.
    for (let i = 0; i < value.length; i++) out += (i === 0 ? "" : ",") + (canonical(value[i]) ?? "")
    return out + "]"
  }
  if (value !== null && typeof value === "object") {
    const o = value as Record<string, unknown>
    let out = "{"
    for (const key of Object.keys(o).sort()) {
      const v = o[key]
      if (v === undefined) continue
      out += (out.length === 1 ? "" : ",") + quoted(key) + ":" + canonical(v)
    }
    return out + "}"
  }
  return JSON.stringify(value)
}

/** Identifies a request independently of field order, so a retry matches and a different request does not. */
export const fingerprint = (command: Command): string => hash("sha256", canonical(command))

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

import { createHash } from "node:crypto"
import type { Command } from "../domain/commands.ts"

const canonical = (value: unknown): string => {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`
  if (value !== null && typeof value === "object") {
    const o = value as Record<string, unknown>
    return `{${Object.keys(o).filter((k) => o[k] !== undefined).sort().map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`).join(",")}}`
  }
  return JSON.stringify(value)
}

/**
 * Identifies a request independently of field order, so a retry matches and a different request does
 * not: the first 128 bits of SHA-256, 32 hex characters (kept with every idempotency record for its
 * TTL, so its size counts; two different requests under the same key colliding is out of reach).
 */
export const fingerprint = (command: Command): string =>
  createHash("sha256").update(canonical(command)).digest("hex").slice(0, 32)

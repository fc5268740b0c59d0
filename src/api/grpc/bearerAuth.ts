import { createHash, timingSafeEqual } from "node:crypto"
import type { Metadata } from "@grpc/grpc-js"
import { Redacted } from "effect"

const digest = (s: string) => createHash("sha256").update(s, "utf8").digest()

/**
 * Checks `authorization: Bearer <token>` against the configured token. Both
 * sides are hashed first so the comparison is constant-time whatever the
 * length of what the caller sent. No token configured: every call passes.
 */
export const makeBearerCheck = (token: Redacted.Redacted<string> | undefined) => {
  if (token === undefined) return (_metadata: Metadata) => true
  const expected = digest(Redacted.value(token))
  return (metadata: Metadata): boolean => {
    const header = metadata.get("authorization")[0]
    const value = typeof header === "string" ? header : header?.toString("utf8") ?? ""
    const match = /^Bearer\s+(\S+)\s*$/i.exec(value)
    return timingSafeEqual(digest(match?.[1] ?? ""), expected) && match !== null
  }
}

import { createHash } from "node:crypto"

/** A fingerprint shaped as the ledger makes them (SHA-256, 64 hex digits), named by a label. */
export const fingerprintOf = (label: string): string => createHash("sha256").update(label).digest("hex")

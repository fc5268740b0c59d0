import type { BalanceClientOptions } from "../BalanceClient.ts"

/** `key=value` pairs (repeatable flag or comma-separated env) as metadata. */
const metadataOf = (pairs: ReadonlyArray<string>): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const p of pairs) {
    const eq = p.indexOf("=")
    if (eq <= 0) throw new Error(`metadata must be key=value, got ${JSON.stringify(p)}`)
    out[p.slice(0, eq).trim().toLowerCase()] = p.slice(eq + 1).trim()
  }
  return out
}

/**
 * The connection settings the commands share: flags first, then environment
 * (BALANCE_ADDRESSES, BALANCE_TOKEN, BALANCE_ADMIN_METADATA).
 */
export const connectionOptions = (flags: {
  readonly address?: ReadonlyArray<string> | undefined
  readonly token?: string | undefined
  readonly "admin-metadata"?: ReadonlyArray<string> | undefined
}): BalanceClientOptions => {
  const addresses = flags.address?.length ? flags.address : (process.env.BALANCE_ADDRESSES ?? "127.0.0.1:50051").split(",").map((s) => s.trim())
  const token = flags.token ?? process.env.BALANCE_TOKEN
  const admin = flags["admin-metadata"]?.length ? flags["admin-metadata"] : (process.env.BALANCE_ADMIN_METADATA ?? "").split(",").filter((s) => s !== "")
  return {
    addresses,
    auth: { ...(token ? { bearerToken: token } : {}), adminMetadata: metadataOf(admin) }
  }
}

export const connectionFlags = {
  address: { type: "string", multiple: true },
  token: { type: "string" },
  "admin-metadata": { type: "string", multiple: true }
} as const

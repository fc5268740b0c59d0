import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import type { BalanceClientOptions } from "../BalanceClient.ts"
import { BalanceCallError } from "../errors.ts"

/** Bad flags or arguments: the command's usage problem (exit 2), not a failure of the service. */
export class UsageError extends Error {}

/** `key=value` pairs (repeatable flag or comma-separated env) as metadata. */
const metadataOf = (pairs: ReadonlyArray<string>): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const p of pairs) {
    const eq = p.indexOf("=")
    if (eq <= 0) throw new UsageError(`metadata must be key=value, got ${JSON.stringify(p)}`)
    out[p.slice(0, eq).trim().toLowerCase()] = p.slice(eq + 1).trim()
  }
  return out
}

/**
 * The operator's credential when none is given as metadata: the service's admin key from
 * ADMIN_API_KEY, else the file `npm start` generates (`$DATA_DIR/admin-api-key`, DATA_DIR
 * defaulting to `.data`), as `npm run grpc` finds it.
 */
const adminKeyMetadata = (): Array<string> => {
  if (process.env.ADMIN_API_KEY) return [`x-admin-key=${process.env.ADMIN_API_KEY}`]
  const file = join(process.env.DATA_DIR || ".data", "admin-api-key")
  return existsSync(file) ? [`x-admin-key=${readFileSync(file, "utf8").trim()}`] : []
}

/**
 * The connection settings the commands share: flags first, then environment
 * (BALANCE_ADDRESSES, BALANCE_TOKEN, BALANCE_ADMIN_METADATA, else ADMIN_API_KEY or the
 * service's generated key file for the operator's calls).
 */
export const connectionOptions = (flags: {
  readonly address?: ReadonlyArray<string> | undefined
  readonly token?: string | undefined
  readonly "admin-metadata"?: ReadonlyArray<string> | undefined
}): BalanceClientOptions => {
  const addresses = flags.address?.length ? flags.address : (process.env.BALANCE_ADDRESSES ?? "127.0.0.1:50051").split(",").map((s) => s.trim())
  const token = flags.token ?? process.env.BALANCE_TOKEN
  const fromEnv = (process.env.BALANCE_ADMIN_METADATA ?? "").split(",").filter((s) => s !== "")
  const admin = flags["admin-metadata"]?.length ? flags["admin-metadata"] : fromEnv.length > 0 ? fromEnv : adminKeyMetadata()
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

/**
 * Runs a command's main: a usage problem or a failure is one line on stderr naming what to
 * change (exit 2 / 1), never a stack trace into the client's sources.
 */
export const runCommand = (name: string, main: () => Promise<number>): void => {
  main().then(
    (code) => process.exit(code),
    (e: unknown) => {
      const usage = e instanceof UsageError || (e as { code?: string })?.code?.startsWith("ERR_PARSE_ARGS") === true
      const hint = e instanceof BalanceCallError && e.grpcCode === 16
        ? " (give the operator's credential: --admin-metadata x-admin-key=<ADMIN_API_KEY>, or ADMIN_API_KEY)"
        : ""
      process.stderr.write(`${name}: ${e instanceof Error ? e.message : String(e)}${hint}\n`)
      process.exit(usage ? 2 : 1)
    }
  )
}

import { randomBytes } from "node:crypto"
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs"
import { join } from "node:path"

export const ADMIN_API_KEY_FILE = "admin-api-key"

export interface AdminApiKeyFile {
  readonly key: string
  readonly path: string
  /** True when this call generated the key (the only time it may be shown). */
  readonly created: boolean
}

/**
 * Reads the admin key kept under DATA_DIR, or creates it (256 random bits,
 * mode 0600). Creation uses O_EXCL so two instances starting together agree
 * on one key instead of overwriting each other's.
 */
export const loadOrCreateAdminApiKey = (dataDir: string): AdminApiKeyFile => {
  const path = join(dataDir, ADMIN_API_KEY_FILE)
  mkdirSync(dataDir, { recursive: true, mode: 0o700 })
  const key = randomBytes(32).toString("base64url")
  try {
    writeFileSync(path, `${key}\n`, { flag: "wx", mode: 0o600 })
    return { key, path, created: true }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error
  }
  if ((statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600)
  const existing = readFileSync(path, "utf8").trim()
  if (existing.length < 16) throw new Error(`${path} does not hold a usable admin API key; delete it to generate a new one`)
  return { key: existing, path, created: false }
}

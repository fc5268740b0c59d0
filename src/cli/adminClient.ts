import { readFileSync } from "node:fs"
import { join } from "node:path"

/**
 * The admin CLI's view of the HTTP API: plain fetch, no dependency, so that the compiled CLI also
 * runs on an older Node than the service's.
 */

export const DEFAULT_API_URL = "http://127.0.0.1:3002/api"
/** How long one request may wait for its answer (a stopped or wedged service would otherwise hang the CLI). */
export const DEFAULT_TIMEOUT_SECONDS = 30
const MAX_TIMER_MS = 2 ** 31 - 1

export interface ClientSettings {
  readonly apiUrl: string
  readonly adminKey: string
  readonly timeoutMs: number
}

export class CliError extends Error {
  readonly exitCode: number
  constructor(message: string, exitCode: number) {
    super(message)
    this.exitCode = exitCode
  }
}

/** An error answer of the API: `{ error, message, details }` and its status. */
export class ApiError extends CliError {
  readonly status: number
  readonly code: string
  readonly details: unknown
  constructor(status: number, code: string, message: string, details: unknown) {
    super(`${status} ${code}: ${message}`, 1)
    this.status = status
    this.code = code
    this.details = details
  }
}

const isHttpUrl = (text: string) => {
  try {
    return /^https?:$/.test(new URL(text).protocol)
  } catch {
    return false
  }
}

/**
 * The admin key: ADMIN_API_KEY, else the key file the service generated (DATA_DIR/admin-api-key,
 * DATA_DIR defaulting to .data as for the service).
 */
export const resolveSettings = (env: NodeJS.ProcessEnv, apiUrlFlag: string | undefined, timeoutFlag?: string): ClientSettings => {
  const apiUrl = (apiUrlFlag ?? env["BALANCE_API_URL"] ?? DEFAULT_API_URL).replace(/\/+$/, "")
  if (!isHttpUrl(apiUrl)) throw new CliError(`--url / BALANCE_API_URL must be an http(s) URL such as ${DEFAULT_API_URL}, not "${apiUrl}"`, 2)
  const seconds = timeoutFlag === undefined ? DEFAULT_TIMEOUT_SECONDS : Number(timeoutFlag)
  // Timers hold at most 2^31-1 ms; past that Node fires them at once.
  if (!(Number.isFinite(seconds) && seconds > 0 && seconds * 1000 <= MAX_TIMER_MS)) {
    throw new CliError(`--timeout must be a number of seconds above 0 and at most ${Math.floor(MAX_TIMER_MS / 1000)}, not "${timeoutFlag}"`, 2)
  }
  const timeoutMs = Math.ceil(seconds * 1000)
  const fromEnv = env["ADMIN_API_KEY"]?.trim()
  if (fromEnv !== undefined && fromEnv !== "") return { apiUrl, adminKey: fromEnv, timeoutMs }
  const keyFile = join(env["DATA_DIR"] ?? ".data", "admin-api-key")
  try {
    const key = readFileSync(keyFile, "utf8").trim()
    if (key !== "") return { apiUrl, adminKey: key, timeoutMs }
  } catch {
    // fall through to the message below
  }
  throw new CliError(`no admin key: set ADMIN_API_KEY, or run where ${keyFile} exists (DATA_DIR)`, 2)
}

export interface AdminClient {
  readonly get: (path: string, query?: Readonly<Record<string, string | number | undefined>>) => Promise<any>
  readonly post: (
    path: string,
    body?: unknown,
    headers?: Readonly<Record<string, string>>
  ) => Promise<{ readonly status: number; readonly headers: Headers; readonly body: any }>
}

export const adminClient = (settings: ClientSettings): AdminClient => {
  const send = async (method: string, path: string, body: unknown, headers: Readonly<Record<string, string>>) => {
    let response: Response
    let text: string
    // One deadline for the whole exchange: headers and body.
    const signal = AbortSignal.timeout(settings.timeoutMs)
    try {
      response = await fetch(settings.apiUrl + path, {
        method,
        headers: { "x-admin-key": settings.adminKey, ...(body === undefined ? {} : { "content-type": "application/json" }), ...headers },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal
      })
      text = await response.text()
    } catch (e) {
      if (signal.aborted) {
        // A write whose answer never came may have been applied: its key makes running it again safe.
        const key = headers["idempotency-key"]
        const write = key === undefined ? "" : `; it may have been applied: run it again with --key ${key} (the same key moves nothing twice)`
        throw new CliError(
          `no answer from ${settings.apiUrl} within ${settings.timeoutMs / 1000} s: is the service stopped or overloaded? (--timeout SECONDS)${write}`,
          1
        )
      }
      const cause = (e as { cause?: { code?: string } }).cause?.code ?? (e instanceof Error ? e.message : String(e))
      throw new CliError(`cannot reach ${settings.apiUrl} (${cause}); is the service running? (BALANCE_API_URL)`, 1)
    }
    let parsed: any = undefined
    try {
      parsed = text === "" ? undefined : JSON.parse(text)
    } catch {
      parsed = text
    }
    if (response.status >= 400) {
      const error = typeof parsed === "object" && parsed !== null ? parsed : { error: "HTTP_ERROR", message: String(parsed ?? response.statusText) }
      throw new ApiError(response.status, String(error.error), String(error.message), error.details)
    }
    return { status: response.status, headers: response.headers, body: parsed }
  }
  return {
    get: async (path, query = {}) => {
      const params = Object.entries(query).filter((e): e is [string, string | number] => e[1] !== undefined)
      const qs = params.length === 0 ? "" : `?${new URLSearchParams(params.map(([k, v]): [string, string] => [k, String(v)])).toString()}`
      return (await send("GET", path + qs, undefined, {})).body
    },
    post: (path, body, headers = {}) => send("POST", path, body, headers)
  }
}

import { Effect } from "effect"
import { SignJWT } from "jose"
import { ADMIN_KEY, HS_SECRET, TestHttpServer } from "./testServer.ts"

export interface Reply {
  readonly status: number
  readonly headers: Headers
  readonly text: string
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly body: any
}

export interface CallOptions {
  readonly body?: unknown
  /** Sent verbatim instead of JSON.stringify(body). */
  readonly rawBody?: string
  readonly token?: string
  readonly adminKey?: string
  readonly headers?: Readonly<Record<string, string>>
}

/** A fetch over the real socket; the body is parsed when it is JSON. */
export const call = async (baseUrl: string, method: string, path: string, options: CallOptions = {}): Promise<Reply> => {
  const headers: Record<string, string> = { ...options.headers }
  if (options.token !== undefined) headers["authorization"] = `Bearer ${options.token}`
  if (options.adminKey !== undefined) headers["x-admin-key"] = options.adminKey
  let body: string | undefined
  if (options.rawBody !== undefined) body = options.rawBody
  else if (options.body !== undefined) body = JSON.stringify(options.body)
  if (body !== undefined && headers["content-type"] === undefined) headers["content-type"] = "application/json"
  const response = await fetch(baseUrl + path, { method, headers, ...(body === undefined ? {} : { body }) })
  const text = await response.text()
  let parsed: unknown = undefined
  if ((response.headers.get("content-type") ?? "").includes("json") && text !== "") parsed = JSON.parse(text)
  return { status: response.status, headers: response.headers, text, body: parsed }
}

/** A client bound to one server; `admin` and `as(player)` preset the credentials. */
export const clientFor = (baseUrl: string) => {
  const bound = (defaults: CallOptions) => ({
    get: (path: string, options: CallOptions = {}) => call(baseUrl, "GET", path, { ...defaults, ...options }),
    post: (path: string, options: CallOptions = {}) => call(baseUrl, "POST", path, { ...defaults, ...options })
  })
  return { anonymous: bound({}), admin: bound({ adminKey: ADMIN_KEY }), withToken: (token: string) => bound({ token }) }
}

/** Requests to the suite's TestHttpServer with preset credentials, as Effects. */
export interface Caller {
  readonly get: (path: string, options?: CallOptions) => Effect.Effect<Reply, never, TestHttpServer>
  readonly post: (path: string, options?: CallOptions) => Effect.Effect<Reply, never, TestHttpServer>
}

const callerWith = (defaults: CallOptions): Caller => {
  const send = (method: string) => (path: string, options: CallOptions = {}) =>
    TestHttpServer.use((server) => Effect.promise(() => call(server.baseUrl, method, path, { ...defaults, ...options })))
  return { get: send("GET"), post: send("POST") }
}

/** No credentials at all. */
export const anonymous = callerWith({})
/** The X-Admin-Key the test server is configured with. */
export const admin = callerWith({ adminKey: ADMIN_KEY })
export const withToken = (token: string) => callerWith({ token })
/** A player's HS256 token for `accountId` (signing is asynchronous, hence the Effect). */
export const asPlayer = (accountId: string) => Effect.map(Effect.promise(() => playerToken(accountId)), withToken)

export const hsToken = (
  claims: Record<string, unknown>,
  options: { readonly secret?: string; readonly expiresIn?: string | number; readonly subject?: string } = {}
) => {
  let jwt = new SignJWT(claims).setProtectedHeader({ alg: "HS256" }).setIssuedAt()
  if (options.subject !== undefined) jwt = jwt.setSubject(options.subject)
  jwt = jwt.setExpirationTime(options.expiresIn ?? "5m")
  return jwt.sign(new TextEncoder().encode(options.secret ?? HS_SECRET))
}

export const playerToken = (accountId: string) => hsToken({}, { subject: accountId })
export const adminToken = () => hsToken({ roles: ["admin"] }, { subject: "ops-1" })

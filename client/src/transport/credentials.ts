import * as grpc from "@grpc/grpc-js"

/** PEM contents. */
export type Pem = string | Buffer

export interface TlsSettings {
  /** The CA that signed the service's certificate; the system roots when absent. */
  readonly ca?: Pem
  /** A client certificate and key, for a service that requires mutual TLS (GRPC_TLS_CA set). */
  readonly cert?: Pem
  readonly key?: Pem
}

export interface AuthSettings {
  /** Sent as `authorization: Bearer <token>` (the service's GRPC_AUTH_TOKEN); a function is read at every attempt (rotation). */
  readonly bearerToken?: string | (() => string)
  /**
   * Metadata for the calls that need the operator's credential (Deposit, Withdraw,
   * EnsureAccount with an initial balance): whatever the service's admin check reads.
   */
  readonly adminMetadata?: Readonly<Record<string, string>> | (() => Readonly<Record<string, string>>)
  /** Any other metadata, per call (e.g. a tenant header). */
  readonly callMetadata?: (call: { readonly method: string; readonly admin: boolean }) => Readonly<Record<string, string>>
}

const buf = (p: Pem | undefined) => (p === undefined ? null : typeof p === "string" ? Buffer.from(p) : p)

/** Plain text without TLS settings (loopback, or a mesh that terminates TLS); TLS / mTLS with them. */
export const channelCredentials = (tls: TlsSettings | undefined): grpc.ChannelCredentials => {
  if (tls === undefined) return grpc.credentials.createInsecure()
  if ((tls.cert === undefined) !== (tls.key === undefined)) throw new Error("tls.cert and tls.key must be given together")
  return grpc.credentials.createSsl(buf(tls.ca), buf(tls.key), buf(tls.cert))
}

/** The metadata of one attempt: auth, the caller's hook, trace propagation. */
export const callMetadata = (
  auth: AuthSettings,
  method: string,
  admin: boolean,
  extra: Readonly<Record<string, string>>
): grpc.Metadata => {
  const m = new grpc.Metadata()
  const token = typeof auth.bearerToken === "function" ? auth.bearerToken() : auth.bearerToken
  if (token !== undefined && token !== "") m.set("authorization", `Bearer ${token}`)
  if (admin && auth.adminMetadata !== undefined) {
    const a = typeof auth.adminMetadata === "function" ? auth.adminMetadata() : auth.adminMetadata
    for (const [k, v] of Object.entries(a)) m.set(k, v)
  }
  for (const [k, v] of Object.entries(auth.callMetadata?.({ method, admin }) ?? {})) m.set(k, v)
  for (const [k, v] of Object.entries(extra)) m.set(k, v)
  return m
}

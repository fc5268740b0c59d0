import { readFile } from "node:fs/promises"
import { ServerCredentials } from "@grpc/grpc-js"
import { Effect, Schema } from "effect"

export interface TlsFiles {
  readonly cert: string | undefined
  readonly key: string | undefined
  /** When set, clients must present a certificate signed by this CA. */
  readonly ca: string | undefined
}

export class TlsConfigError extends Schema.TaggedError<TlsConfigError>()("TlsConfigError", {
  reason: Schema.String
}) {
  override get message() {
    return `gRPC TLS configuration: ${this.reason}`
  }
}

const read = (variable: string, path: string) =>
  Effect.tryPromise({
    try: () => readFile(path),
    catch: (e) => new TlsConfigError({ reason: `${variable}=${path}: ${e instanceof Error ? e.message : String(e)}` })
  })

/** Insecure without files; TLS with GRPC_TLS_CERT + GRPC_TLS_KEY; mutual TLS when GRPC_TLS_CA is set too. */
export const serverCredentials = Effect.fn("serverCredentials")(function*(tls: TlsFiles) {
  if (!tls.cert && !tls.key && !tls.ca) return ServerCredentials.createInsecure()
  if (!tls.cert || !tls.key) {
    return yield* Effect.fail(new TlsConfigError({ reason: "GRPC_TLS_CERT and GRPC_TLS_KEY must be set together" }))
  }
  const certChain = yield* read("GRPC_TLS_CERT", tls.cert)
  const privateKey = yield* read("GRPC_TLS_KEY", tls.key)
  const ca = tls.ca ? yield* read("GRPC_TLS_CA", tls.ca) : null
  return yield* Effect.try({
    try: () => ServerCredentials.createSsl(ca, [{ cert_chain: certChain, private_key: privateKey }], ca !== null),
    catch: (e) => new TlsConfigError({ reason: e instanceof Error ? e.message : String(e) })
  })
})

import * as grpc from "@grpc/grpc-js"
import { Effect, type Redacted } from "effect"
import { Unavailable } from "../http/ApiErrors.ts"
import type { AuthSettingsShape } from "../http/auth/AuthSettings.ts"
import { sameSecret } from "../http/auth/Authentication.ts"
import { makeTokenVerifier } from "../http/auth/TokenVerifier.ts"
import { GrpcStatusFailure } from "./mapFailure.ts"

/**
 * Who may make a call:
 * - "open": anyone (health probes carry no credentials);
 * - "game": the game service, i.e. the holder of GRPC_AUTH_TOKEN when one is set (else anyone who can
 *   connect: loopback, mutual TLS, or GRPC_ALLOW_UNAUTHENTICATED), or an admin;
 * - "admin": calls that create or destroy chips (Deposit, Withdraw, EnsureAccount with an initial
 *   balance), with the same admin credentials as the HTTP API: `x-admin-key: <ADMIN_API_KEY>` or
 *   `authorization: Bearer <JWT with role admin>`.
 */
export type Access = "open" | "game" | "admin"

/**
 * The methods whose calls may need admin credentials (EnsureAccount only with an initial balance),
 * for clients that hold both credentials and send the admin one only where it is needed.
 */
export const ADMIN_METHODS: ReadonlySet<string> = new Set(["Deposit", "Withdraw", "EnsureAccount"])

export interface CallAuthSettings {
  /** GRPC_AUTH_TOKEN: the game's bearer token; unset, game calls need no credential. */
  readonly gameToken: Redacted.Redacted<string> | undefined
  /** The HTTP API's settings: admin key, JWT keys, AUTH_DISABLED. */
  readonly admin: AuthSettingsShape
}

export type Authorize = (access: Access, method: string, metadata: grpc.Metadata) => Effect.Effect<void, GrpcStatusFailure>

const BEARER = /^Bearer\s+(\S+)\s*$/i

const header = (metadata: grpc.Metadata, key: string): string | undefined => {
  const value = metadata.get(key)[0]
  return value === undefined ? undefined : typeof value === "string" ? value : value.toString("utf8")
}

const deny = (code: grpc.status, details: string) => Effect.fail(new GrpcStatusFailure({ code, details }))

const ADMIN_CREDENTIALS = "metadata x-admin-key: <ADMIN_API_KEY> or authorization: Bearer <JWT with role admin>"

/**
 * Checks a call's metadata against what its method needs. Secrets are compared
 * in constant time (hashed first, whatever the lengths). A wrong credential is
 * refused even where none is needed, so a misconfigured client learns of it.
 */
export const makeAuthorizer = (settings: CallAuthSettings): Authorize => {
  const { admin, gameToken } = settings
  const verify = makeTokenVerifier(admin)
  const jwtConfigured = admin.hs256Secret !== undefined || admin.jwksUrl !== undefined

  /** An admin JWT in `token`: void, or why not. */
  const adminJwt = (token: string, method: string) =>
    verify(token).pipe(
      Effect.mapError((e) =>
        new GrpcStatusFailure(
          e instanceof Unavailable
            ? { code: grpc.status.UNAVAILABLE, details: e.message }
            : { code: grpc.status.UNAUTHENTICATED, details: `invalid bearer token: ${e.message}` }
        )
      ),
      Effect.flatMap((verified) =>
        verified.admin ? Effect.void : deny(grpc.status.PERMISSION_DENIED, `${method} is for admins; the token has no admin role`)
      )
    )

  return (access, method, metadata) => {
    if (access === "open" || admin.disabled) return Effect.void
    const adminKey = header(metadata, "x-admin-key")
    if (adminKey !== undefined) {
      return admin.adminApiKey !== undefined && sameSecret(adminKey, admin.adminApiKey)
        ? Effect.void
        : deny(grpc.status.UNAUTHENTICATED, "the x-admin-key is not valid")
    }
    const authorization = header(metadata, "authorization")
    const bearer = authorization === undefined ? undefined : BEARER.exec(authorization)?.[1]
    const isGameToken = bearer !== undefined && gameToken !== undefined && sameSecret(bearer, gameToken)
    if (access === "game") {
      if (gameToken === undefined || isGameToken) return Effect.void
      if (bearer !== undefined && jwtConfigured) return adminJwt(bearer, method)
      return deny(grpc.status.UNAUTHENTICATED, "missing or invalid bearer token")
    }
    if (isGameToken) {
      return deny(grpc.status.PERMISSION_DENIED, `${method} creates or destroys chips: the game's token does not allow it; send ${ADMIN_CREDENTIALS}`)
    }
    if (bearer !== undefined && jwtConfigured) return adminJwt(bearer, method)
    return deny(
      grpc.status.UNAUTHENTICATED,
      `${method} creates or destroys chips and needs admin credentials: send ${ADMIN_CREDENTIALS}`
    )
  }
}

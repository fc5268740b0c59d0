import { Effect, Redacted } from "effect"
import { createRemoteJWKSet, decodeProtectedHeader, errors, type JWTPayload, jwtVerify, type JWTVerifyOptions } from "jose"
import { Unauthorized, Unavailable } from "../ApiErrors.ts"
import type { AuthSettingsShape } from "./AuthSettings.ts"

export interface VerifiedToken {
  readonly subject: string
  readonly admin: boolean
}

const invalid = (message: string) => new Unauthorized({ error: "INVALID_TOKEN", message })

const ASYMMETRIC = ["RS256", "ES256"]

class JwksUnreachable extends Error {}

/** Network errors, timeouts, non-200 answers and unparsable key sets: our problem, not the caller's. */
const isJwksUnreachable = (error: unknown): boolean =>
  !(error instanceof errors.JOSEError) || error instanceof errors.JWKSTimeout || error instanceof errors.JWKSInvalid ||
  error.code === "ERR_JOSE_GENERIC"

/** `roles: ["admin"]`, `roles: "admin ops"`, `role: "admin"` and `role: ["admin"]` all make an admin. */
export const hasAdminRole = (claims: JWTPayload): boolean =>
  [claims["roles"], claims["role"]].some((value) => {
    const list = typeof value === "string" ? value.split(/[\s,]+/) : Array.isArray(value) ? value : []
    return list.some((r) => r === "admin")
  })

/**
 * Verifies bearer tokens with jose: HS256 against the shared secret, RS256 and
 * ES256 against the JWKS (fetched lazily, cached, refetched when an unknown
 * `kid` shows up after the cooldown, which is how key rotation propagates).
 * The algorithm list is fixed per key type, so a token cannot pick "none" or
 * turn the HS256 secret into a public key.
 */
export const makeTokenVerifier = (settings: AuthSettingsShape) => {
  const secret = settings.hs256Secret === undefined ? undefined : new TextEncoder().encode(Redacted.value(settings.hs256Secret))
  const jwks = settings.jwksUrl === undefined
    ? undefined
    : createRemoteJWKSet(new URL(settings.jwksUrl), { cooldownDuration: settings.jwksCooldownMs, timeoutDuration: 5_000 })
  const claimChecks: JWTVerifyOptions = {
    ...(settings.issuer === undefined ? {} : { issuer: settings.issuer }),
    ...(settings.audience === undefined ? {} : { audience: [...settings.audience] }),
    clockTolerance: 5
  }

  const verifyWithKey = async (token: string): Promise<JWTPayload> => {
    let alg: string | undefined
    try {
      alg = decodeProtectedHeader(token).alg
    } catch {
      throw new errors.JWTInvalid("malformed token")
    }
    if (alg === "HS256" && secret !== undefined) {
      return (await jwtVerify(token, secret, { ...claimChecks, algorithms: ["HS256"] })).payload
    }
    if (alg !== undefined && ASYMMETRIC.includes(alg) && jwks !== undefined) {
      try {
        return (await jwtVerify(token, jwks, { ...claimChecks, algorithms: ASYMMETRIC })).payload
      } catch (error) {
        throw isJwksUnreachable(error) ? new JwksUnreachable() : error
      }
    }
    throw new errors.JOSEAlgNotAllowed(`tokens signed with ${alg ?? "no algorithm"} are not accepted here`)
  }

  const toError = (cause: unknown): Unauthorized | Unavailable => {
    if (cause instanceof JwksUnreachable) {
      return new Unavailable({ error: "AUTH_UNAVAILABLE", message: "the signing keys (JWKS) could not be fetched; retry later" })
    }
    if (cause instanceof errors.JWTExpired) return new Unauthorized({ error: "TOKEN_EXPIRED", message: "the token has expired" })
    if (cause instanceof errors.JWTClaimValidationFailed) return invalid(`the token's ${cause.claim} claim is not accepted`)
    if (cause instanceof errors.JOSEAlgNotAllowed) return invalid(cause.message)
    return invalid("the token is malformed or its signature does not verify")
  }

  return (token: string): Effect.Effect<VerifiedToken, Unauthorized | Unavailable> => {
    if (secret === undefined && jwks === undefined) {
      return Effect.fail(invalid("bearer tokens are not accepted: no JWT key is configured"))
    }
    return Effect.tryPromise({ try: () => verifyWithKey(token), catch: toError }).pipe(
      Effect.flatMap((claims) =>
        typeof claims.sub === "string" && claims.sub !== ""
          ? Effect.succeed({ subject: claims.sub, admin: hasAdminRole(claims) })
          : Effect.fail(invalid("the token has no sub claim"))
      )
    )
  }
}

import { createHash, timingSafeEqual } from "node:crypto"
import { Effect, Layer, Redacted } from "effect"
import { HttpServerRequest } from "effect/http"
import { HttpApiMiddleware, HttpApiSecurity, OpenApi } from "effect/http-api"
import { Unauthorized, Unavailable } from "../ApiErrors.ts"
import { AuthSettings } from "./AuthSettings.ts"
import { Principal, type PrincipalShape } from "./Principal.ts"
import { makeTokenVerifier } from "./TokenVerifier.ts"

const adminKey = HttpApiSecurity.apiKey({ key: "X-Admin-Key", in: "header" }).pipe(
  HttpApiSecurity.annotate(OpenApi.Description, "The admin API key (ADMIN_API_KEY, or the key generated into DATA_DIR)")
)

/**
 * Establishes the Principal from `Authorization: Bearer <JWT>` or
 * `X-Admin-Key`, on the routes a player may call (their own account). Both
 * schemes are declared so that the OpenAPI document shows them; both run the
 * same check over the whole request, so the answer does not depend on which
 * scheme HttpApi tries first.
 */
export class Authentication extends HttpApiMiddleware.Service<Authentication, { provides: Principal }>()(
  "balance/http/Authentication",
  {
    error: [Unauthorized, Unavailable],
    security: {
      bearer: HttpApiSecurity.bearer.pipe(
        HttpApiSecurity.annotate(OpenApi.Description, "A player's JWT (`sub` = their accountId), or an admin's JWT")
      ),
      adminKey
    }
  }
) {}

/**
 * The same check on admin-only routes, declared with the admin schemes only so
 * that the OpenAPI document tells them apart: an admin JWT or the admin key.
 * RequireAdmin then refuses a player's token with 403.
 */
export class AdminAuthentication extends HttpApiMiddleware.Service<AdminAuthentication, { provides: Principal }>()(
  "balance/http/AdminAuthentication",
  {
    error: [Unauthorized, Unavailable],
    security: {
      adminBearer: HttpApiSecurity.bearer.pipe(
        HttpApiSecurity.annotate(OpenApi.Description, "An admin's JWT: `roles` (or `role`) contains `admin`")
      ),
      adminKey
    }
  }
) {}

const digest = (s: string) => createHash("sha256").update(s).digest()

/** Constant time whatever the lengths: both sides are hashed to 32 bytes first. */
export const sameSecret = (given: string, expected: Redacted.Redacted<string>): boolean =>
  timingSafeEqual(digest(given), digest(Redacted.value(expected)))

const BEARER = /^Bearer +(\S+) *$/i

/** One check for both middlewares: whatever a route declares, the request's credentials decide. */
const makePrincipalCheck = (
  Effect.gen(function*() {
    const settings = yield* AuthSettings
    const verify = makeTokenVerifier(settings)

    const authenticate = Effect.gen(function*() {
      if (settings.disabled) return { subject: "anonymous", admin: true, via: "auth-disabled" } satisfies PrincipalShape
      const request = yield* HttpServerRequest.HttpServerRequest
      const adminKey = request.headers["x-admin-key"]
      const authorization = request.headers["authorization"]
      if (adminKey !== undefined) {
        if (settings.adminApiKey !== undefined && sameSecret(adminKey, settings.adminApiKey)) {
          return { subject: "admin", admin: true, via: "admin-key" } satisfies PrincipalShape
        }
        return yield* new Unauthorized({ error: "INVALID_ADMIN_KEY", message: "the X-Admin-Key is not valid" })
      }
      if (authorization === undefined) {
        return yield* new Unauthorized({
          error: "MISSING_CREDENTIALS",
          message: "send Authorization: Bearer <JWT> or X-Admin-Key"
        })
      }
      const token = BEARER.exec(authorization)?.[1]
      if (token === undefined) {
        return yield* new Unauthorized({ error: "INVALID_CREDENTIALS", message: "the Authorization header must be Bearer <JWT>" })
      }
      const verified = yield* verify(token)
      return { subject: verified.subject, admin: verified.admin, via: "jwt" } satisfies PrincipalShape
    })

    return <A, E, R>(httpEffect: Effect.Effect<A, E, R>) =>
      Effect.flatMap(authenticate, (principal) => Effect.provideService(httpEffect, Principal, principal))
  })
)

/** Both middlewares over one check (one token verifier, one JWKS cache). */
export const AuthenticationLive = Layer.unwrap(
  Effect.map(makePrincipalCheck, (withPrincipal) =>
    Layer.mergeAll(
      Layer.succeed(Authentication, Authentication.of({ bearer: withPrincipal, adminKey: withPrincipal })),
      Layer.succeed(AdminAuthentication, AdminAuthentication.of({ adminBearer: withPrincipal, adminKey: withPrincipal }))
    ))
)

import { Context, Effect, Layer, Redacted } from "effect"
import { AppConfig } from "../../../config.ts"
import { loadOrCreateAdminApiKey } from "./adminApiKeyFile.ts"

export interface AuthSettingsShape {
  /** AUTH_DISABLED=true: every request is an admin. Local experiments only. */
  readonly disabled: boolean
  readonly hs256Secret: Redacted.Redacted<string> | undefined
  readonly jwksUrl: string | undefined
  readonly jwksCooldownMs: number
  readonly issuer: string | undefined
  readonly audience: ReadonlyArray<string> | undefined
  readonly adminApiKey: Redacted.Redacted<string> | undefined
}

const defaults: AuthSettingsShape = {
  disabled: false,
  hs256Secret: undefined,
  jwksUrl: undefined,
  jwksCooldownMs: 30_000,
  issuer: undefined,
  audience: undefined,
  adminApiKey: undefined
}

/** Settings given directly (tests, explicit server settings); plain strings are wrapped in Redacted. */
export const authSettingsWith = (
  overrides: Partial<Omit<AuthSettingsShape, "hs256Secret" | "adminApiKey">> & {
    readonly hs256Secret?: string
    readonly adminApiKey?: string
  } = {}
): AuthSettingsShape => {
  const { hs256Secret, adminApiKey, ...rest } = overrides
  return {
    ...defaults,
    ...rest,
    hs256Secret: hs256Secret === undefined ? undefined : Redacted.make(hs256Secret),
    adminApiKey: adminApiKey === undefined ? undefined : Redacted.make(adminApiKey)
  }
}

/**
 * How callers of both APIs are authenticated (HTTP, and the admin methods of
 * gRPC), read once at start. Secure by default: with no JWT key and no admin
 * key configured, an admin key is generated into DATA_DIR/admin-api-key (0600),
 * so nothing is ever open by accident. The key never goes to the log stream
 * (log pipelines keep what they see): the log says where the file is.
 */
export class AuthSettings extends Context.Service<AuthSettings, AuthSettingsShape>()("balance/http/AuthSettings") {
  static readonly layer = Layer.effect(
    AuthSettings,
    Effect.gen(function*() {
      const disabled = yield* AppConfig.authDisabled
      const hs256 = yield* AppConfig.jwtHs256Secret
      const legacy = yield* AppConfig.jwtSecret
      const jwksUrl = yield* AppConfig.jwtJwksUrl
      const audience = yield* AppConfig.jwtAudience
      let adminApiKey = yield* AppConfig.adminApiKey
      if (disabled) {
        yield* Effect.logWarning("AUTH_DISABLED=true: every HTTP request and gRPC call is treated as an admin's; never run like this outside local experiments")
      }
      if (hs256 !== undefined && legacy !== undefined && hs256 !== legacy) {
        yield* Effect.logWarning("JWT_HS256_SECRET and the legacy JWT_SECRET differ; JWT_HS256_SECRET is used")
      }
      if (jwksUrl !== undefined) {
        yield* Effect.try({ try: () => new URL(jwksUrl), catch: () => new Error(`JWT_JWKS_URL is not a URL: ${jwksUrl}`) })
      }
      const secret = hs256 ?? legacy
      if (!disabled && secret === undefined && jwksUrl === undefined && adminApiKey === undefined) {
        const dataDir = yield* AppConfig.dataDir
        const file = yield* Effect.try(() => loadOrCreateAdminApiKey(dataDir))
        adminApiKey = file.key
        yield* Effect.logInfo(
          file.created
            ? "no JWT key and no ADMIN_API_KEY configured: generated an admin API key into its file (not logged); " +
              "send it as X-Admin-Key (HTTP) or x-admin-key metadata (gRPC), or set ADMIN_API_KEY / JWT_HS256_SECRET / JWT_JWKS_URL"
            : "admin API key loaded from its file (generated earlier)"
        ).pipe(Effect.annotateLogs({ adminKeyFile: file.path }))
      }
      return AuthSettings.of({
        disabled,
        hs256Secret: secret === undefined ? undefined : Redacted.make(secret),
        jwksUrl,
        jwksCooldownMs: yield* AppConfig.jwtJwksCooldownMs,
        issuer: yield* AppConfig.jwtIssuer,
        audience: audience?.split(",").map((a) => a.trim()).filter((a) => a !== ""),
        adminApiKey: adminApiKey === undefined ? undefined : Redacted.make(adminApiKey)
      })
    })
  )

  /** Settings given directly (tests); plain strings are wrapped in Redacted. */
  static readonly layerWith = (overrides: Parameters<typeof authSettingsWith>[0] = {}) =>
    Layer.succeed(AuthSettings, AuthSettings.of(authSettingsWith(overrides)))
}

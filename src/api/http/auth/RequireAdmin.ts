import { Effect, Layer } from "effect"
import { HttpApiMiddleware } from "effect/http-api"
import { Forbidden } from "../ApiErrors.ts"
import { Principal } from "./Principal.ts"

/** Admin-only endpoints: an admin JWT role or the admin API key. */
export class RequireAdmin extends HttpApiMiddleware.Service<RequireAdmin, { requires: Principal }>()(
  "balance/http/RequireAdmin",
  { error: Forbidden }
) {
  static readonly layer = Layer.succeed(RequireAdmin, Effect.fnUntraced(function*(httpEffect) {
    if ((yield* Principal).admin) return yield* httpEffect
    return yield* new Forbidden({ error: "ADMIN_REQUIRED", message: "this endpoint is for admins" })
  }))
}

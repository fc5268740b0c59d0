import { Effect, Layer } from "effect"
import { HttpRouter } from "effect/http"
import { HttpApiMiddleware } from "effect/http-api"
import { Forbidden } from "../ApiErrors.ts"
import { Principal } from "./Principal.ts"

/**
 * Players reach only their own account: the `:accountId` of the route must
 * equal the token's `sub`. Admins reach every account. Applied to the whole
 * accounts group so that a new endpoint cannot forget the check.
 */
export class AccountAccess extends HttpApiMiddleware.Service<AccountAccess, { requires: Principal }>()(
  "balance/http/AccountAccess",
  { error: Forbidden }
) {
  static readonly layer = Layer.succeed(AccountAccess, Effect.fnUntraced(function*(httpEffect) {
    const principal = yield* Principal
    const { accountId } = yield* HttpRouter.params
    if (principal.admin || (accountId !== undefined && principal.subject === accountId)) return yield* httpEffect
    return yield* new Forbidden({ error: "FORBIDDEN", message: "this token does not grant access to that account" })
  }))
}

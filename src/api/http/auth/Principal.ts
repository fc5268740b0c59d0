import { Context } from "effect"

/** Who is calling, as established by the Authentication middleware. */
export interface PrincipalShape {
  /** The JWT `sub`, or "admin" for the admin API key. */
  readonly subject: string
  readonly admin: boolean
  readonly via: "jwt" | "admin-key" | "auth-disabled"
}

export class Principal extends Context.Service<Principal, PrincipalShape>()("balance/http/Principal") {}

import { Schema } from "effect"

/** The settings that choose a listener's port; the operator fixes a bind failure by changing one. */
export type PortVariable = "HTTP_PORT" | "GRPC_PORT" | "METRICS_PORT"

/**
 * A listener could not bind its port. The message names the variable and the
 * port ("GRPC_PORT 50051 is in use ..."), so the one log line that ends the
 * start says what to change.
 */
export class PortUnavailable extends Schema.TaggedError<PortUnavailable>()("PortUnavailable", {
  variable: Schema.String,
  host: Schema.String,
  port: Schema.Number,
  /** What the operating system said, in words (e.g. "is in use"). */
  problem: Schema.String
}) {
  override get message() {
    return `${this.variable} ${this.port} ${this.problem}`
  }
}

/** The errno of a failed listen: Node's `code`, or the one grpc-js quotes in its message. */
const errnoOf = (error: unknown): string | undefined => {
  const code = (error as { code?: unknown } | null)?.code
  if (typeof code === "string") return code
  const text = error instanceof Error ? error.message : String(error)
  return /\b(EADDRINUSE|EACCES|EADDRNOTAVAIL|EPERM)\b/.exec(text)?.[1]
}

/** The listen error of `variable`'s port on `host`, in the operator's terms; undefined when it is not a bind problem. */
export const portUnavailable = (
  variable: PortVariable,
  hostVariable: string,
  host: string,
  port: number,
  error: unknown
): PortUnavailable | undefined => {
  const at = `${host.includes(":") ? `[${host}]` : host}:${port}`
  const problem = (() => {
    switch (errnoOf(error)) {
      case "EADDRINUSE":
        return `is in use (${at}): another process listens there; stop it or set ${variable} to a free port`
      case "EACCES":
      case "EPERM":
        return `is not allowed (${at}): ports below 1024 need privileges; set ${variable} to 1024 or above`
      case "EADDRNOTAVAIL":
        return `cannot be bound on ${host}: not an address of this machine; check ${hostVariable}`
      default:
        return undefined
    }
  })()
  return problem === undefined ? undefined : new PortUnavailable({ variable, host, port, problem })
}

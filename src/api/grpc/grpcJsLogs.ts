import * as grpc from "@grpc/grpc-js"
import { Effect } from "effect"

/** Reported by the service itself, as one line naming GRPC_PORT (PortUnavailable). */
const REPORTED_BY_US = /^No address added out of total/

/**
 * grpc-js writes its own errors to stderr as raw text ("E No address added ..."),
 * which breaks a JSON log stream: its lines go through the service's logger
 * instead (source grpc-js), at the level grpc-js gave them.
 */
export const routeGrpcJsLogs = Effect.gen(function*() {
  const context = yield* Effect.context<never>()
  const run = Effect.runForkWith(context)
  const text = (args: ReadonlyArray<unknown>) => args.map(String).join(" ")
  const forward = (log: (message: string) => Effect.Effect<void>) => (...args: Array<unknown>) => {
    const message = text(args)
    if (!REPORTED_BY_US.test(message)) run(log(message).pipe(Effect.annotateLogs({ source: "grpc-js" })))
  }
  grpc.setLogger({
    error: forward((m) => Effect.logError(m)),
    info: forward((m) => Effect.logInfo(m)),
    debug: forward((m) => Effect.logDebug(m))
  })
})

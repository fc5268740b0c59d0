import { status } from "@grpc/grpc-js"
import { Effect, Exit } from "effect"
import { Store } from "../../store/Store.ts"
import type { WireRequest } from "./balanceHandlers.ts"
import { GrpcStatusFailure } from "./mapFailure.ts"
import { BALANCE_SERVICE } from "./protoDefinition.ts"

export type ServingStatus = "SERVING" | "NOT_SERVING" | "SERVICE_UNKNOWN"

/** "" is the server as a whole; both are only as healthy as the store behind them. */
const KNOWN_SERVICES = new Set(["", BALANCE_SERVICE])
const PROBE_TIMEOUT = "1 second"
const WATCH_INTERVAL = "1 second"

const unknownService = (service: string) =>
  new GrpcStatusFailure({ code: status.NOT_FOUND, details: `unknown service ${JSON.stringify(service)}` })

/** grpc.health.v1.Health: SERVING exactly when the store answers a ping in time. */
export const makeHealthService = Effect.gen(function*() {
  const store = yield* Store

  const probe: Effect.Effect<ServingStatus> = store.ping().pipe(
    Effect.timeout(PROBE_TIMEOUT),
    Effect.exit,
    Effect.map((exit) => (Exit.isSuccess(exit) ? "SERVING" : "NOT_SERVING"))
  )

  const serviceOf = (request: WireRequest) => (typeof request.service === "string" ? request.service : "")

  const check = (request: WireRequest): Effect.Effect<{ readonly status: ServingStatus }, GrpcStatusFailure> => {
    const service = serviceOf(request)
    if (!KNOWN_SERVICES.has(service)) return Effect.fail(unknownService(service))
    return Effect.map(probe, (s) => ({ status: s }))
  }

  /** Sends the status now and again whenever it changes, until the caller goes away. */
  const watch = Effect.fnUntraced(function*(request: WireRequest, write: (message: object) => Effect.Effect<void>) {
    const known = KNOWN_SERVICES.has(serviceOf(request))
    let last: ServingStatus | undefined
    for (;;) {
      const now: ServingStatus = known ? yield* probe : "SERVICE_UNKNOWN"
      if (now !== last) yield* write({ status: now })
      last = now
      yield* Effect.sleep(WATCH_INTERVAL)
    }
  })

  return { check, watch }
})

import { Effect } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { ListenerReadiness } from "../../../listeners/ListenerReadiness.ts"
import { Store } from "../../../store/Store.ts"
import { storeUnavailable, Unavailable } from "../ApiErrors.ts"
import { BalanceApi } from "../BalanceApi.ts"

const LISTENER_VARIABLES = { grpc: "GRPC_PORT", metrics: "METRICS_PORT" } as const

export const HealthHandlers = HttpApiBuilder.group(BalanceApi, "health", Effect.fnUntraced(function*(handlers) {
  const store = yield* Store
  const listeners = yield* ListenerReadiness
  /** Ready means every listener accepts connections: the game may be sent here as soon as this says so. */
  const listening = Effect.flatMap(listeners.notAccepting, (missing) =>
    missing.length === 0 ? Effect.void : Effect.fail(
      new Unavailable({
        error: "NOT_READY",
        message: `not accepting connections yet: ${missing.map((l) => `${l} (${LISTENER_VARIABLES[l]})`).join(", ")}`
      })
    ))
  return handlers
    .handle("health", () => Effect.succeed({ status: "ok" as const }))
    .handle("ready", () =>
      listening.pipe(
        Effect.andThen(store.ping().pipe(
          // A store that hangs is as unready as one that refuses.
          Effect.timeoutOrElse({ duration: "2 seconds", orElse: () => Effect.fail(storeUnavailable()) }),
          Effect.mapError(() => storeUnavailable())
        )),
        Effect.as({ status: "ready" as const })
      ))
}))

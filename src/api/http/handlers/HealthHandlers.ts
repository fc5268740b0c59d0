import { Effect } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { Store } from "../../../store/Store.ts"
import { storeUnavailable } from "../ApiErrors.ts"
import { BalanceApi } from "../BalanceApi.ts"

export const HealthHandlers = HttpApiBuilder.group(BalanceApi, "health", (handlers) =>
  Effect.gen(function*() {
    const store = yield* Store
    return handlers
      .handle("health", () => Effect.succeed({ status: "ok" as const }))
      .handle("ready", () =>
        store.ping().pipe(
          // A store that hangs is as unready as one that refuses.
          Effect.timeoutOrElse({ duration: "2 seconds", orElse: () => Effect.fail(storeUnavailable()) }),
          Effect.mapError(() => storeUnavailable()),
          Effect.as({ status: "ready" as const })
        ))
  }))

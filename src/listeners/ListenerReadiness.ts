import { Context, Effect, Layer, type Scope } from "effect"

/** The listeners besides HTTP (which answers /api/ready, so it is up whenever the question arrives). */
export type Listener = "grpc" | "metrics"

export interface ListenerReadinessShape {
  /** Marks `listener` as accepting connections until the current scope closes (its drain begins). */
  readonly accepting: (listener: Listener) => Effect.Effect<void, never, Scope.Scope>
  /** The expected listeners that do not accept connections now; empty when all do. */
  readonly notAccepting: Effect.Effect<ReadonlyArray<Listener>>
}

const tracking = (expected: ReadonlyArray<Listener>): ListenerReadinessShape => {
  const up = new Set<Listener>()
  return {
    accepting: (listener) =>
      Effect.acquireRelease(Effect.sync(() => void up.add(listener)), () => Effect.sync(() => void up.delete(listener))),
    notAccepting: Effect.sync(() => expected.filter((listener) => !up.has(listener)))
  }
}

/**
 * What `/api/ready` waits for besides the store: every listener of the
 * process accepts connections. A load balancer that routes the game to an
 * instance as soon as it is ready must find the gRPC port open. The default
 * expects nothing (a server assembled alone in a test); `main` expects all.
 */
export const ListenerReadiness = Context.Reference<ListenerReadinessShape>("balance/ListenerReadiness", {
  defaultValue: () => tracking([])
})

/** Ready only once every one of `expected` accepts. */
export const listenerReadinessLayer = (expected: ReadonlyArray<Listener>) =>
  Layer.sync(ListenerReadiness, () => tracking(expected))

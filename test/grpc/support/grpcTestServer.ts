import { Layer } from "effect"
import { type GrpcServerSettings, grpcServerLayerWith } from "../../../src/api/grpc/GrpcServer.ts"
import { authSettingsWith } from "../../../src/api/http/auth/AuthSettings.ts"
import type { LedgerSettings } from "../../../src/ledger/LedgerSettings.ts"
import type { Store } from "../../../src/store/Store.ts"
import { ledgerOn } from "../../support/ledgerLayers.ts"
import { BalanceClient, TEST_ADMIN_KEY } from "./balanceClient.ts"

export { TEST_ADMIN_KEY }
import { ShiftableClock } from "./shiftableClock.ts"

export const testServerSettings = (overrides: Partial<GrpcServerSettings> = {}): GrpcServerSettings => ({
  host: "127.0.0.1",
  port: 0,
  authToken: undefined,
  admin: authSettingsWith({ adminApiKey: TEST_ADMIN_KEY }),
  allowUnauthenticated: false,
  tls: { cert: undefined, key: undefined, ca: undefined },
  shutdownTimeoutMs: 2_000,
  watchPollMs: 20,
  ...overrides
})

export interface TestServerOptions {
  readonly server?: Partial<GrpcServerSettings>
  readonly ledger?: Partial<LedgerSettings["Service"]>
}

/**
 * The real gRPC server on a free port over the ledger on `store`, a client
 * connected to it, and a clock tests can push forward.
 */
export const grpcServerOn = <E>(store: Layer.Layer<Store, E>, options: TestServerOptions = {}) =>
  BalanceClient.layer.pipe(Layer.provideMerge(grpcServerOnly(store, options)))

/** The same without a client (tests that connect their own). */
export const grpcServerOnly = <E>(store: Layer.Layer<Store, E>, options: TestServerOptions = {}) =>
  grpcServerLayerWith(testServerSettings(options.server)).pipe(
    Layer.provideMerge(ledgerOn(store, options.ledger)),
    Layer.provideMerge(ShiftableClock.layer)
  )

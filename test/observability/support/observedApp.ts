import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Context, Effect, Layer, Logger, References, type Redacted } from "effect"
import { HttpServer } from "effect/http"
import { grpcServerLayerWith } from "../../../src/api/grpc/GrpcServer.ts"
import { AuthSettings } from "../../../src/api/http/auth/AuthSettings.ts"
import * as BalanceHttpServer from "../../../src/api/http/HttpServer.ts"
import * as AdminServices from "../../../src/app/AdminServices.ts"
import type { LedgerSettings } from "../../../src/ledger/LedgerSettings.ts"
import * as EconomyMetrics from "../../../src/economy/EconomyMetrics.ts"
import { makeJsonLogger } from "../../../src/observability/Logging.ts"
import { MetricsServer } from "../../../src/observability/MetricsServer.ts"
import { CreditQueue } from "../../../src/degradation/CreditQueue.ts"
import { ReservationExpiry } from "../../../src/reservations/ReservationExpiry.ts"
import type { Store } from "../../../src/store/Store.ts"
import { BalanceClient } from "../../grpc/support/balanceClient.ts"
import { testServerSettings } from "../../grpc/support/grpcTestServer.ts"
import { ShiftableClock } from "../../grpc/support/shiftableClock.ts"
import { ADMIN_KEY, HS_SECRET } from "../../http/support/testServer.ts"
import { ledgerOn } from "../../support/ledgerLayers.ts"

/** Every line the service's own JSON logger wrote (at Debug and above), raw and parsed. */
export class CapturedLogs extends Context.Service<CapturedLogs, {
  readonly raw: Array<string>
  readonly lines: () => ReadonlyArray<Record<string, unknown>>
}>()("test/CapturedLogs") {
  static readonly layer = Layer.unwrap(Effect.sync(() => {
    const raw: Array<string> = []
    const logs = CapturedLogs.of({ raw, lines: () => raw.map((l) => JSON.parse(l) as Record<string, unknown>) })
    return Layer.mergeAll(
      Layer.succeed(CapturedLogs, logs),
      Logger.layer([makeJsonLogger((line) => void raw.push(line))]),
      Layer.succeed(References.MinimumLogLevel, "Debug")
    )
  }))
}

/** The HTTP API's base URL. */
export const httpBaseUrl = Effect.map(HttpServer.HttpServer, (server) => {
  const address = server.address
  if (address._tag !== "InetAddressV4") throw new Error("expected an IPv4 address")
  return `http://127.0.0.1:${address.port}`
})

export interface ObservedAppOptions {
  readonly ledger?: Partial<LedgerSettings["Service"]>
  readonly grpcAuthToken?: Redacted.Redacted<string>
  /** Completion lines at Info (true) or Debug. */
  readonly accessLog?: boolean
}

/**
 * What main.ts runs, on free ports over `store`: gRPC (with a client), HTTP,
 * the metrics server, economy and expiry metrics, the reservation sweep
 * (called by the test, not scheduled), one Metrics registry for all of
 * them, a clock the test can push, and the JSON logger captured.
 */
export const observedApp = <E>(store: Layer.Layer<Store, E>, options: ObservedAppOptions = {}) =>
  Layer.mergeAll(
    BalanceClient.layer.pipe(
      Layer.provideMerge(grpcServerLayerWith(testServerSettings({
        accessLog: options.accessLog ?? true,
        ...(options.grpcAuthToken === undefined ? {} : { authToken: options.grpcAuthToken })
      })))
    ),
    BalanceHttpServer.layerWith({ port: 0, host: "127.0.0.1", maxBodyBytes: 65_536, accessLog: options.accessLog ?? true }).pipe(
      Layer.provide(AuthSettings.layerWith({ adminApiKey: ADMIN_KEY, hs256Secret: HS_SECRET })),
      Layer.provide(AdminServices.layerAt(mkdtempSync(join(tmpdir(), "observed-app-"))))
    ),
    MetricsServer.layerWith({ port: 0, host: "127.0.0.1" }),
    EconomyMetrics.layer,
    CreditQueue.metrics,
    ReservationExpiry.metrics
  ).pipe(
    Layer.provideMerge(ReservationExpiry.layer),
    Layer.provideMerge(ledgerOn(store, options.ledger ?? {})),
    Layer.provideMerge(ShiftableClock.layer),
    Layer.provideMerge(CapturedLogs.layer)
  )

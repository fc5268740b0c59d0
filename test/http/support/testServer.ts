import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Context, Effect, Layer, Logger, ManagedRuntime, References } from "effect"
import { HttpServer } from "effect/http"
import { AuthSettings } from "../../../src/api/http/auth/AuthSettings.ts"
import * as BalanceHttpServer from "../../../src/api/http/HttpServer.ts"
import { type HistoryViews } from "../../../src/app/AdminServices.ts"
import * as AdminServices from "../../../src/app/AdminServices.ts"
import type { Ledger } from "../../../src/ledger/Ledger.ts"
import type { LedgerVerifier } from "../../../src/ledger/LedgerVerifier.ts"
import type { Store } from "../../../src/store/Store.ts"
import { ShiftableClock } from "../../grpc/support/shiftableClock.ts"
import { makeJsonLogger } from "../../../src/observability/Logging.ts"
import { ledgerOn } from "../../support/ledgerLayers.ts"

export const ADMIN_KEY = "test-admin-key-0123456789"
export const HS_SECRET = "test-hs256-secret-that-is-long-enough-0123456789"

export interface TestServerOptions {
  /** Auth settings given directly; default: ADMIN_KEY and HS_SECRET. */
  readonly auth?: Parameters<typeof AuthSettings.layerWith>[0]
  /** Or a layer building them (e.g. AuthSettings.layer over a test ConfigProvider). */
  readonly authLayer?: Layer.Layer<AuthSettings, unknown>
  readonly maxBodyBytes?: number
  readonly ledgerSettings?: Parameters<typeof ledgerOn>[1]
  /** Where dead letters are read from (default: a fresh temporary directory). */
  readonly dataDir?: string
  /** Collects every log line at Info and above, as the service prints it (JSON, annotations included). */
  readonly logs?: Array<string>
  /** The admin services' economy and archive status (default: the live tail, NOT_CONFIGURED), over the server's Store. */
  readonly historyViews?: HistoryViews<unknown, Store>
}

/**
 * The real HTTP server on 127.0.0.1 (a free port) as a service: where it listens and where its
 * admin services keep their files. Its layer also hands the test the server's own ledger, store
 * and clock, for state the HTTP API cannot create (holds, pots) and for moving time forward.
 */
export class TestHttpServer extends Context.Service<TestHttpServer, {
  readonly baseUrl: string
  /** DATA_DIR of the admin services (dead letters). */
  readonly dataDir: string
}>()("test/TestHttpServer") {
  static readonly layer = <E>(store: Layer.Layer<Store, E>, options: TestServerOptions = {}) => {
    const logs = options.logs
    const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), "http-test-"))
    const logging = logs === undefined
      ? Layer.succeed(References.MinimumLogLevel, "Error")
      : Layer.mergeAll(
        Logger.layer([makeJsonLogger((line) => void logs.push(line.trimEnd()))]),
        Layer.succeed(References.MinimumLogLevel, "Info")
      )
    const server = BalanceHttpServer.layerWith({
      port: 0,
      host: "127.0.0.1",
      maxBodyBytes: options.maxBodyBytes ?? 65_536,
      accessLog: false
    }).pipe(
      Layer.provide(AdminServices.layerAt(dataDir, options.historyViews)),
      Layer.provideMerge(ledgerOn(store, options.ledgerSettings ?? {})),
      Layer.provide(options.authLayer ?? AuthSettings.layerWith(options.auth ?? { adminApiKey: ADMIN_KEY, hs256Secret: HS_SECRET })),
      Layer.provideMerge(ShiftableClock.layer),
      Layer.provide(logging)
    )
    return Layer.effect(
      TestHttpServer,
      Effect.flatMap(HttpServer.HttpServer, ({ address }) =>
        address._tag === "InetAddressV4"
          ? Effect.succeed(TestHttpServer.of({ baseUrl: `http://127.0.0.1:${address.port}`, dataDir }))
          : Effect.die(new Error("expected an IPv4 address")))
    ).pipe(Layer.provideMerge(server))
  }
}

/** Promise flavour of the same server, for suites outside test/http that drive it with async code. */
export interface TestServer {
  readonly baseUrl: string
  /** DATA_DIR of the admin services (dead letters). */
  readonly dataDir: string
  /** Runs an effect against the same ledger the server uses (seeding, inspection). */
  readonly run: <A, E>(effect: Effect.Effect<A, E, Ledger | LedgerVerifier | Store | ShiftableClock>) => Promise<A>
  /** Moves the server's clock forward (deadlines pass, writes are stamped later); sleeps stay real. */
  readonly advanceClock: (millis: number) => Promise<void>
  readonly close: () => Promise<void>
}

/** The real HTTP server on 127.0.0.1, a free port, over the given store layer. */
export const startTestServer = async <E>(
  store: Layer.Layer<Store, E>,
  options: TestServerOptions = {}
): Promise<TestServer> => {
  const runtime = ManagedRuntime.make(TestHttpServer.layer(store, options))
  const { baseUrl, dataDir } = await runtime.runPromise(TestHttpServer)
  return {
    baseUrl,
    dataDir,
    run: (effect) => runtime.runPromise(effect),
    advanceClock: (millis) => runtime.runPromise(ShiftableClock.use((c) => c.advance(millis))),
    close: () => runtime.dispose()
  }
}

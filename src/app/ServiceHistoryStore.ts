import { Effect, Layer, Redacted } from "effect"
import { AppConfig } from "../config.ts"
import { HistoryStore } from "../history/HistoryStore.ts"
import { LocalPostgresServer } from "../history/LocalPostgresServer.ts"

/** `postgres://user:***@host:port/db`: where the history store is, without its password. */
const describeDatabase = (url: string): string => {
  try {
    const u = new URL(url)
    if (u.password !== "") u.password = "***"
    return u.toString()
  } catch {
    return "(unparseable DATABASE_URL)"
  }
}

/**
 * Chooses the history store (HISTORY_ARCHIVE=on): DATABASE_URL when set, else
 * a private PostgreSQL under DATA_DIR that lives and dies with the service.
 * Migrations run before the layer is ready.
 */
export const layer = Layer.unwrap(
  Effect.gen(function*() {
    const poolSize = yield* AppConfig.databasePoolSize
    const databaseUrl = yield* AppConfig.databaseUrl
    if (databaseUrl !== undefined) {
      const url = Redacted.value(databaseUrl)
      yield* Effect.logInfo("history store").pipe(Effect.annotateLogs({ database: describeDatabase(url) }))
      return HistoryStore.layer(url, poolSize, yield* AppConfig.databasePassword)
    }
    return Layer.unwrap(Effect.gen(function*() {
      const local = yield* LocalPostgresServer
      return HistoryStore.layer(local.url, poolSize)
    })).pipe(Layer.provide(LocalPostgresServer.layer))
  })
)

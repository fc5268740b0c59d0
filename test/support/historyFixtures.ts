import { Effect, Layer, Redacted } from "effect"
import { SqlClient } from "effect/sql"
import { PgClient } from "@effect/sql-pg"
import { GENESIS, type LedgerEntry, signEntry } from "../../src/domain/ledgerEntry.ts"
import { HistoryStore } from "../../src/history/HistoryStore.ts"
import { TestPostgres } from "./postgresServer.ts"

let databases = 0

/** A new empty database on the test server (one per test: no state leaks between tests); its URL. */
export const freshDatabase = Effect.gen(function*() {
  const server = yield* TestPostgres
  const name = `history_${process.pid}_${++databases}`
  yield* Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql.unsafe(`create database ${name}`)
  }).pipe(Effect.provide(PgClient.layer({ url: Redacted.make(server.url), maxConnections: 1 })), Effect.orDie)
  return server.url.replace(/\/postgres$/, `/${name}`)
})

/** The history store on a fresh database of the test server. */
export const freshHistoryStore = Layer.unwrap(Effect.map(freshDatabase, (url) => HistoryStore.layer(url)))

/** A plain SQL client on `url`, for looking (and tampering) behind the history store's back. */
export const sqlOn = (url: string) => PgClient.layer({ url: Redacted.make(url), maxConnections: 2 })

/**
 * A valid chain of `n` entries for `account`, starting after `from` (seq, checksum, balance):
 * deposits of 10 chips each.
 */
export const chain = (
  account: string,
  n: number,
  from: { readonly seq: number; readonly checksum: string; readonly balance: number } = { seq: 0, checksum: GENESIS, balance: 0 },
  hmacKey?: string
): Array<LedgerEntry> => {
  const out: Array<LedgerEntry> = []
  let { seq, checksum, balance } = from
  for (let i = 0; i < n; i++) {
    seq += 1
    const e = signEntry({
      entryId: `${account}#${seq}`,
      accountId: account,
      seq,
      transferId: `t-${account}-${seq}`,
      type: "DEPOSIT",
      amount: 10,
      balanceBefore: balance,
      balanceAfter: balance + 10,
      heldDelta: 0,
      heldAfter: 0,
      parent: `transfer:t-${account}-${seq}`,
      metadata: { source: "ADMIN", note: `n${seq}` },
      timestamp: 1_700_000_000_000 + seq,
      previousChecksum: checksum
    }, hmacKey)
    out.push(e)
    seq = e.seq
    checksum = e.checksum
    balance = e.balanceAfter
  }
  return out
}

import { randomUUID } from "node:crypto"
import { Clock, Effect, Layer } from "effect"
import { type AccountRef, keyKind } from "../domain/accounts.ts"
import type { ChainCursor } from "../domain/chainVerification.ts"
import type { LedgerEntry } from "../domain/ledgerEntry.ts"
import type { Transfer } from "../domain/transfer.ts"
import type { StoreEvent } from "../store/Store.ts"
import {
  type ArchivedClosedObject,
  groupTransfers,
  type HeadCheckpoint,
  HistoryStore,
  HistoryUnavailable,
  type OrderedTransfer,
  parseEventId,
  type TransferDisagreement
} from "./HistoryStore.ts"

const orderOf = (t: OrderedTransfer): [number, number, number] => {
  const id = parseEventId(t.eventId)
  return [id.ms, id.seq, t.position]
}

const compareOrder = (a: readonly [number, number, number], b: readonly [number, number, number]) =>
  a[0] - b[0] || a[1] - b[1] || a[2] - b[2]

/**
 * The history store in process memory, with the semantics of the PostgreSQL
 * one (same checks in commit, rows keyed the same way, same orders): for
 * property tests that interleave archiving with random commands by the
 * thousand. Not for running the service.
 */
export const makeMemoryHistoryStore = (): HistoryStore["Service"] => {
  const archiveId = randomUUID()
  let cursor = "0"
  let fencingToken = 0
  let lastBatchAt: number | null = null
  const entries = new Map<AccountRef, Map<number, LedgerEntry>>()
  const transfers = new Map<string, OrderedTransfer>()
  const closed = new Map<string, { -readonly [K in keyof ArchivedClosedObject]: ArchivedClosedObject[K] }>()
  const stops = new Map<AccountRef, { readonly seq: number; readonly reason: string; readonly stoppedAt: number }>()
  const positions = new Map<string, string>()
  const checkpoints = new Map<AccountRef, Map<number, HeadCheckpoint>>()
  const keepCheckpoints = (list: ReadonlyArray<HeadCheckpoint>) => {
    for (const c of list) {
      let byAccount = checkpoints.get(c.account)
      if (!byAccount) checkpoints.set(c.account, byAccount = new Map())
      if (!byAccount.has(c.seq)) byAccount.set(c.seq, c)
    }
  }

  const chainOf = (account: AccountRef) => {
    let chain = entries.get(account)
    if (!chain) entries.set(account, chain = new Map())
    return chain
  }

  return HistoryStore.of({
    state: () => Effect.sync(() => ({ cursor, fencingToken })),
    archiveId: () => Effect.succeed(archiveId),
    heads: (accounts) =>
      Effect.sync(() => {
        const result = new Map<AccountRef, ChainCursor>()
        for (const account of accounts) {
          const chain = entries.get(account)
          if (!chain || chain.size === 0) continue
          const last = chain.get(Math.max(...chain.keys()))!
          result.set(account, { seq: last.seq, checksum: last.checksum, balance: last.balanceAfter, held: last.heldAfter })
        }
        return result
      }),
    checksums: (at) =>
      Effect.sync(() => {
        const result = new Map<string, string>()
        for (const { account, seq } of at) {
          const e = entries.get(account)?.get(seq)
          if (e) result.set(`${account}#${seq}`, e.checksum)
        }
        return result
      }),
    stopped: (accounts) => Effect.sync(() => new Set(accounts.filter((a) => stops.has(a)))),
    commit: (batch) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        if (fencingToken > batch.fencingToken) return { _tag: "Fenced", token: fencingToken } as const
        if (cursor !== batch.fromCursor) return { _tag: "CursorMoved", cursor } as const
        fencingToken = batch.fencingToken
        cursor = batch.toCursor
        lastBatchAt = now
        for (const e of batch.entries) {
          const chain = chainOf(e.accountId)
          if (!chain.has(e.seq)) chain.set(e.seq, e)
        }
        for (const t of batch.transfers) if (!transfers.has(t.transfer.transferId)) transfers.set(t.transfer.transferId, t)
        for (const c of batch.closed) {
          if (!closed.has(c.key)) closed.set(c.key, { key: c.key, state: c.state, closedAt: c.closedAt, version: c.version ?? null, retiredAt: null })
        }
        for (const s of batch.stops) if (!stops.has(s.account)) stops.set(s.account, { seq: s.seq, reason: s.reason, stoppedAt: now })
        keepCheckpoints(batch.checkpoints ?? [])
        return { _tag: "Committed" } as const
      }),
    entries: (account, afterSeq, limit) =>
      Effect.sync(() =>
        [...(entries.get(account)?.values() ?? [])].filter((e) => e.seq > afterSeq).sort((a, b) => a.seq - b.seq).slice(0, Math.max(0, limit))
      ),
    transfers: (account) =>
      Effect.sync(() =>
        [...transfers.values()].filter((t) => t.transfer.from === account || t.transfer.to === account)
          .sort((a, b) => compareOrder(orderOf(a), orderOf(b)))
      ),
    recordPositions: (rows) =>
      Effect.sync(() => {
        for (const r of rows) positions.set(`${r.account}#${r.idx}`, r.transferId)
      }),
    transfersBefore: (account, beforeIdx, limit) =>
      Effect.sync(() => {
        // The account's positions, not every index below beforeIdx (a retired pot's first page asks below 2^53).
        const out: Array<{ readonly idx: number; readonly transfer: Transfer }> = []
        const idxs = [...positions.keys()].filter((k) => k.startsWith(`${account}#`)).map((k) => Number(k.slice(account.length + 1)))
        for (const idx of idxs.filter((i) => i < beforeIdx).sort((a, b) => b - a)) {
          if (out.length >= limit) break
          const t = transfers.get(positions.get(`${account}#${idx}`)!)
          if (t) out.push({ idx, transfer: t.transfer })
        }
        return out
      }),
    eventsBefore: (beforeId, throughId, limit) =>
      Effect.sync(() => {
        const through = parseEventId(throughId)
        const before = beforeId === null ? null : parseEventId(beforeId)
        const byEvent = new Map<string, Array<OrderedTransfer>>()
        for (const t of transfers.values()) {
          const id = parseEventId(t.eventId)
          const atOrBelowThrough = id.ms < through.ms || (id.ms === through.ms && id.seq <= through.seq)
          const belowBefore = before === null || id.ms < before.ms || (id.ms === before.ms && id.seq < before.seq)
          if (!atOrBelowThrough || !belowBefore) continue
          const list = byEvent.get(t.eventId)
          if (list) list.push(t)
          else byEvent.set(t.eventId, [t])
        }
        return [...byEvent.entries()]
          .sort(([a], [b]) => compareOrder([parseEventId(b).ms, parseEventId(b).seq, 0], [parseEventId(a).ms, parseEventId(a).seq, 0]))
          .slice(0, Math.max(0, limit))
          .map(([id, list]): StoreEvent => ({ id, entries: [], transfers: list.sort((x, y) => x.position - y.position).map((t) => t.transfer) }))
      }),
    closedObject: (key) => Effect.sync(() => (closed.has(key) ? { ...closed.get(key)! } : null)),
    closedObjects: (keys) =>
      Effect.sync(() => new Map(keys.flatMap((k) => (closed.has(k) ? [[k, { ...closed.get(k)! }] as const] : [])))),
    retirable: (closedBefore, after, limit) =>
      Effect.sync(() =>
        [...closed.values()]
          .filter((c) => c.retiredAt === null && c.closedAt < closedBefore)
          .filter((c) => after === null || c.closedAt > after.closedAt || (c.closedAt === after.closedAt && c.key > after.key))
          .sort((a, b) => a.closedAt - b.closedAt || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
          .slice(0, Math.max(0, limit))
          .map((c) => ({ ...c }))
      ),
    transferPositions: (accounts) =>
      Effect.sync(() => {
        const result = new Map<AccountRef, { readonly count: number; readonly next: number }>()
        for (const account of accounts) {
          const idxs = [...positions.keys()].filter((k) => k.startsWith(`${account}#`)).map((k) => Number(k.slice(account.length + 1)))
          if (idxs.length > 0) result.set(account, { count: idxs.length, next: Math.max(...idxs) + 1 })
        }
        return result
      }),
    recordVersions: (token, rows) =>
      Effect.sync(() => {
        if (fencingToken > token) return { _tag: "Fenced", token: fencingToken } as const
        for (const r of rows) {
          const c = closed.get(r.key)
          if (c && c.version === null) c.version = r.version
        }
        return { _tag: "Written" } as const
      }),
    markRetired: (token, keys, at) =>
      Effect.sync(() => {
        if (fencingToken > token) return { _tag: "Fenced", token: fencingToken } as const
        for (const k of keys) {
          const c = closed.get(k)
          if (c && c.retiredAt === null) c.retiredAt = at
        }
        return { _tag: "Written" } as const
      }),
    positionsWithoutTransfer: (limit) =>
      Effect.sync(() =>
        [...positions].filter(([, transferId]) => !transfers.has(transferId))
          .map(([key, transferId]) => {
            const at = key.lastIndexOf("#")
            return { account: key.slice(0, at), idx: Number(key.slice(at + 1)), transferId }
          })
          .sort((a, b) => a.account < b.account ? -1 : a.account > b.account ? 1 : a.idx - b.idx)
          .slice(0, Math.max(0, limit))
      ),
    transfersDisagreeingWithEntries: (limit) =>
      Effect.sync(() => {
        const out: Array<TransferDisagreement> = []
        for (const { transfer } of [...transfers.values()].sort((a, b) => a.transfer.transferId < b.transfer.transferId ? -1 : 1)) {
          const sides = [{ account: transfer.from, expected: -transfer.amount }, { account: transfer.to, expected: transfer.amount }]
            .filter((side) => keyKind(side.account) !== "system" && !stops.has(side.account))
            .sort((a, b) => a.account < b.account ? -1 : 1)
          for (const side of sides) {
            const named = [...(entries.get(side.account)?.values() ?? [])].filter((e) => e.transferId === transfer.transferId)
            const recorded = named.length === 0 ? [null] : named.map((e) => e.amount)
            for (const amount of recorded) {
              if (amount !== side.expected) out.push({ transferId: transfer.transferId, account: side.account, expected: side.expected, recorded: amount })
            }
          }
        }
        return out.slice(0, Math.max(0, limit))
      }),
    retiredPots: (cursor, limit) =>
      Effect.sync(() => {
        const all = [...closed.values()].filter((c) => c.retiredAt !== null && c.state.kind === "pot" && (cursor === null || c.key > cursor))
          .map((c) => c.key).sort()
        const items = all.slice(0, Math.max(0, limit))
        return { items, nextCursor: all.length > items.length && items.length > 0 ? items[items.length - 1]! : null }
      }),
    recordCheckpoints: (list) => Effect.sync(() => keepCheckpoints(list)),
    latestCheckpoint: (account) =>
      Effect.sync(() => {
        const byAccount = checkpoints.get(account)
        return byAccount && byAccount.size > 0 ? byAccount.get(Math.max(...byAccount.keys()))! : null
      }),
    summary: () =>
      Effect.sync(() => ({
        cursor,
        archivedEntries: [...entries.values()].reduce((n, chain) => n + chain.size, 0),
        archivedTransfers: transfers.size,
        lastBatchAt,
        stops: [...stops.entries()].map(([account, s]) => ({ account, ...s }))
      })),
    // No SQL here: the reports that aggregate in the archive (ArchiveEconomyHistory) need PostgreSQL.
    snapshot: () => Effect.fail(new HistoryUnavailable({ operation: "snapshot", reason: "the in-memory history store has no SQL snapshot" })),
    enabled: true,
    ping: () => Effect.void
  })
}

export const layer = Layer.sync(HistoryStore, makeMemoryHistoryStore)

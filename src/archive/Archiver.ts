import { randomUUID } from "node:crypto"
import { isDeepStrictEqual } from "node:util"
import { Clock, Context, Effect, Layer } from "effect"
import { type AccountRef, archivedPotMarker, isArchivedPot, isChained } from "../domain/accounts.ts"
import { checkpointMac } from "../domain/headCheckpoint.ts"
import type { LedgerEntry } from "../domain/ledgerEntry.ts"
import {
  type ArchivedClosedObject,
  type ClosedObject,
  type ClosedPosition,
  type ContinuityStop,
  type HeadCheckpoint,
  HistoryStore,
  type HistoryUnavailable,
  parseEventId
} from "../history/HistoryStore.ts"
import { LedgerSettings } from "../ledger/LedgerSettings.ts"
import { makeArchiveMetrics } from "../observability/ArchiveMetrics.ts"
import { Metrics } from "../observability/Metrics.ts"
import { type CompactObject, type EventOutline, type RetireObject, Store, transferRef } from "../store/Store.ts"
import type { StoreUnavailable } from "../store/StoreErrors.ts"
import { archiveLag } from "./archiveLag.ts"
import { closedAt, closedObjectKeys, continuity, entriesByAccount, orderedTransfers } from "./archiveBatch.ts"

export interface ArchiverOptions {
  /** Stream events per batch (one PostgreSQL transaction). */
  readonly batchEvents: number
  /** Lease duration in Redis; renewed at every pass. */
  readonly leaseMs: number
  /** This instance's lease owner id (no spaces). */
  readonly owner: string
  /** Remove from Redis what PostgreSQL committed (reads must then span both tiers: TieredStore). */
  readonly trim: boolean
  /**
   * With `trim`: closed objects (settled/cancelled pots, closed reservations) that closed longer ago
   * than this and that PostgreSQL holds whole leave Redis entirely (retire); undefined: never.
   * CLOSED_RETENTION_MS.
   */
  readonly retentionMs?: number | undefined
}

export type PassOutcome =
  /** Another instance holds the lease: this one waits. */
  | "standby"
  /** Nothing new in the stream. */
  | "idle"
  | "committed"
  /** A newer archiver (higher fencing token) wrote since: nothing written by this pass. */
  | "fenced"
  /** Another archiver committed from the same cursor first: nothing written by this pass. */
  | "cursor_moved"

export interface PassReport {
  readonly outcome: PassOutcome
  readonly events: number
  readonly entries: number
  readonly transfers: number
  readonly closed: number
  /** Settled pots of this batch replaced in Redis by their markers after the commit (trimming on). */
  readonly compacted: number
  readonly stops: ReadonlyArray<ContinuityStop>
  /** The batch was full: more is waiting. */
  readonly more: boolean
}

export interface TrimReport {
  readonly events: number
  readonly entries: number
  readonly transfers: number
  /** Parts left in Redis because they did not match the archive (trim.lua's skips). */
  readonly skipped: ReadonlyArray<string>
}

export interface RetireReport {
  /** Closed objects removed from Redis (object, trimmed counters, closed index member). */
  readonly retired: number
  /** Objects left in Redis because they do not match what the archive holds, or are not trimmed yet: "<key> <why>". */
  readonly skipped: ReadonlyArray<string>
}

const GAP_PAGE = 1_000
/** Objects per retire.lua call (its checks read ~8 fields per object: well under a millisecond of Redis per call). */
const RETIRE_BATCH = 200
/** retire.lua calls per drain at most: the rest waits for the next drain. */
const RETIRE_CALLS_PER_DRAIN = 50

const idle = (outcome: PassOutcome): PassReport => ({
  outcome,
  events: 0,
  entries: 0,
  transfers: 0,
  closed: 0,
  compacted: 0,
  stops: [],
  more: false
})

/**
 * Copies the ledger's history from Redis to PostgreSQL (DESIGN 9): the
 * events the stream holds after the archive's cursor, in batches, each batch
 * one transaction that also moves the cursor and checks the fencing token of
 * this instance's Redis lease, so that exactly one archiver's batch lands per
 * cursor position and a paused archiver cannot write after its successor.
 * An account's entries are accepted only when they continue the chain the
 * archive holds; otherwise the account is recorded as stopped (archive_stops),
 * logged and counted, and nothing of it is archived again until an operator
 * clears the stop.
 */
export class Archiver extends Context.Service<Archiver, {
  /** One batch: lease, read, check, commit. */
  readonly pass: () => Effect.Effect<PassReport, StoreUnavailable | HistoryUnavailable>
  /** Passes until the stream is drained (or `maxPasses`), then the time lag is measured. */
  readonly drain: (maxPasses?: number) => Effect.Effect<ReadonlyArray<PassReport>, StoreUnavailable | HistoryUnavailable>
  /** Removes from Redis what the archive committed, up to its cursor (a no-op when trimming is off). */
  readonly trim: () => Effect.Effect<TrimReport, StoreUnavailable | HistoryUnavailable>
  /** Removes from Redis closed objects the archive holds whole, past their retention (a no-op without trimming or retention). */
  readonly retire: () => Effect.Effect<RetireReport, StoreUnavailable | HistoryUnavailable>
  /** Gives the lease up (a clean stop: another instance need not wait for its TTL). */
  readonly release: () => Effect.Effect<void, StoreUnavailable>
}>()("balance/Archiver") {
  static readonly make = Effect.fnUntraced(function*(options: ArchiverOptions) {
    const store = yield* Store
    const history = yield* HistoryStore
    const { hmacKey } = yield* LedgerSettings
    const { registry } = yield* Metrics
    const {
      rows,
      passes,
      continuityStops: stopsCounter,
      lagSeconds,
      leader,
      trimmed: trimmedRows,
      trimSkips
    } = makeArchiveMetrics(registry)

    /** Redis' entries of `account` with seq in (afterSeq, beforeSeq): what the stream no longer carries. */
    const fillGap = Effect.fn("Archiver.fillGap")(function*(account: AccountRef, afterSeq: number, beforeSeq: number) {
      const out: Array<LedgerEntry> = []
      let at = afterSeq
      while (at < beforeSeq - 1) {
        const page = yield* store.entries(account, at, Math.min(GAP_PAGE, beforeSeq - 1 - at))
        out.push(...page)
        if (page.length === 0) break
        at = page[page.length - 1]!.seq
      }
      return out
    })

    /**
     * The live heads of these accounts (HMAC-signed with a key), kept in the history store with the
     * batch, so that a chain later truncated in Redis with its head rewritten to match disagrees
     * with its past. Committed in the batch's transaction: one PostgreSQL commit per batch.
     */
    const headCheckpoints = Effect.fn("Archiver.headCheckpoints")(function*(accounts: ReadonlyArray<AccountRef>) {
      if (accounts.length === 0) return []
      const takenAt = yield* Clock.currentTimeMillis
      const heads = (yield* store.load(accounts)).objects
      return accounts.flatMap((account): Array<HeadCheckpoint> => {
        const head = heads.get(account)?.value
        if (!head || !isChained(head) || head.seq === 0) return []
        const fields = { account, seq: head.seq, checksum: head.checksum, balance: head.balance, takenAt }
        return [{ ...fields, mac: checkpointMac(fields, hmacKey) }]
      })
    })

    /**
     * Replaces settled pots that this pass committed by their markers (PotState.archived), each only
     * while Redis still holds the version committed (compact.lua); a pot left whole is logged and
     * counted, and stays whole (correct, only larger). Returns how many were replaced.
     */
    const compactSettledPots = Effect.fn("Archiver.compactSettledPots")(function*(objects: ReadonlyArray<CompactObject>) {
      if (objects.length === 0) return 0
      const result = yield* store.compactArchived(objects)
      trimmedRows.inc({ kind: "closed" }, result.compacted.length)
      for (const skip of result.skipped) {
        trimSkips.inc({ part: "closed" })
        yield* Effect.logWarning("archiver left a settled pot whole in Redis: it is not the version the archive committed").pipe(
          Effect.annotateLogs({ detail: skip })
        )
      }
      return result.compacted.length
    })

    /**
     * The events of the batch the last pass committed, from the cursor it started at: the trim that
     * follows removes exactly those from Redis (its trim cursor at `fromCursor`, the archive's at
     * `toCursor`), so it takes their outlines from here instead of reading the stream again (an
     * events.lua call and its parse per batch). Any other trim reads them from Redis.
     */
    let committed: { readonly fromCursor: string; readonly toCursor: string; readonly events: ReadonlyArray<EventOutline> } | undefined

    const pass = Effect.fn("Archiver.pass")(function*() {
      const lease = yield* store.acquireArchiverLease(options.owner, options.leaseMs)
      leader.set(lease._tag === "Held" ? 1 : 0)
      if (lease._tag !== "Held") return idle("standby")
      const { cursor } = yield* history.state()
      const events = yield* store.eventsAfter(cursor, options.batchEvents)
      if (events.length === 0) return idle("idle")

      const byAccount = entriesByAccount(events)
      const accounts = [...byAccount.keys()]
      const stopped = yield* history.stopped(accounts)
      const heads = yield* history.heads(accounts)
      // Entries the stream carries again at or below an archived head: compared, never trusted.
      const repeated = accounts.flatMap((account) => {
        const head = heads.get(account)?.seq ?? 0
        return stopped.has(account) ? [] : byAccount.get(account)!.filter((e) => e.seq <= head).map((e) => ({ account, seq: e.seq }))
      })
      const archivedSums = yield* history.checksums(repeated)

      const entries: Array<LedgerEntry> = []
      const stops: Array<ContinuityStop> = []
      for (const account of accounts) {
        if (stopped.has(account)) continue
        const head = heads.get(account)
        const headSeq = head?.seq ?? 0
        let list = byAccount.get(account)!
        const firstNew = list.find((e) => e.seq > headSeq)
        if (firstNew !== undefined && firstNew.seq > headSeq + 1) {
          list = [...list.filter((e) => e.seq <= headSeq), ...(yield* fillGap(account, headSeq, firstNew.seq)), ...list.filter((e) => e.seq > headSeq)]
        }
        const archived = new Map<number, string>()
        for (const e of list) {
          const sum = archivedSums.get(`${account}#${e.seq}`)
          if (sum !== undefined) archived.set(e.seq, sum)
        }
        const verdict = continuity(account, head, list, archived, hmacKey)
        if (verdict._tag === "Continues") entries.push(...verdict.entries)
        else stops.push(verdict.stop)
      }

      const closedKeys = closedObjectKeys(events)
      const closed: Array<ClosedObject> = []
      /** The version of each closed object as read here: compaction replaces only that version. */
      const closedVersions = new Map<string, number>()
      if (closedKeys.length > 0) {
        const snapshot = yield* store.load(closedKeys)
        for (const key of closedKeys) {
          const read = snapshot.objects.get(key)
          const state = read?.value ?? null
          const at = closedAt(state)
          // A marker was compacted after its pot was committed whole (a batch archived again from an
          // older cursor): it must never stand in for the pot in closed_objects.
          if (state !== null && at !== null && !isArchivedPot(state)) {
            closed.push({ key, state, closedAt: at, version: read!.version })
            closedVersions.set(key, read!.version)
          }
        }
      }

      const transfers = orderedTransfers(events)
      const toCursor = events[events.length - 1]!.id
      const checkpoints = yield* headCheckpoints(accounts.filter((a) => !stopped.has(a) && !stops.some((s) => s.account === a)))
      const outcome = yield* history.commit({
        fencingToken: lease.token,
        fromCursor: cursor,
        toCursor,
        entries,
        transfers,
        closed,
        stops,
        checkpoints
      })
      if (outcome._tag === "Fenced") {
        yield* Effect.logWarning("archiver fenced off: a newer archiver has written; this batch was not committed").pipe(
          Effect.annotateLogs({ token: lease.token, newerToken: outcome.token })
        )
        return idle("fenced")
      }
      if (outcome._tag === "CursorMoved") return idle("cursor_moved")
      committed = { fromCursor: cursor, toCursor, events }
      rows.inc({ kind: "entries" }, entries.length)
      rows.inc({ kind: "transfers" }, transfers.length)
      rows.inc({ kind: "closed" }, closed.length)
      if (stops.length > 0) {
        stopsCounter.inc(stops.length)
        for (const stop of stops) {
          yield* Effect.logError("archiver stopped for an account: its Redis chain does not continue the archived one; nothing of it is archived or trimmed until an operator clears archive_stops").pipe(
            Effect.annotateLogs({ account: stop.account, seq: stop.seq, reason: stop.reason })
          )
        }
      }
      // PostgreSQL now holds these pots whole: Redis may keep their markers only (after the batch's
      // metrics: a Redis failure here fails the pass, not the record of its commit). Not the pots of
      // an account the archive stopped for (its Redis side stays as it is until an operator looks).
      const compacted = options.trim
        ? yield* compactSettledPots(closed.flatMap((c): Array<CompactObject> => {
          const marker = archivedPotMarker(c.state)
          return marker === null || stopped.has(c.key) || stops.some((s) => s.account === c.key)
            ? []
            : [{ key: c.key, version: closedVersions.get(c.key)!, marker }]
        }))
        : 0
      return {
        outcome: "committed",
        events: events.length,
        entries: entries.length,
        transfers: transfers.length,
        closed: closed.length,
        compacted,
        stops,
        more: events.length >= options.batchEvents
      } satisfies PassReport
    })

    /**
     * Trims up to the archive's cursor, one chunk of events at a time: per account, entries through
     * its archived head (checked by checksum) and the transfers those events gave it (checked by id,
     * their list positions recorded in PostgreSQL first); accounts the archiver stopped for keep
     * everything (their lists' references to the trimmed events are first written out in full,
     * trim.lua). The trim cursor in Redis moves by compare-and-set, so two trimmers never pop twice.
     */
    const trim = Effect.fn("Archiver.trim")(function*() {
      const report = { events: 0, entries: 0, transfers: 0, skipped: [] as Array<string> }
      if (!options.trim) return report
      const { cursor: archived } = yield* history.state()
      // A chunk is an archive batch (ARCHIVE_BATCH_EVENTS). Chunks of 250 were measured: +25 µs of
      // Redis CPU per game RPC (trim.lua's per-account work repeats per call), no better game p99.
      for (let chunk = 0; chunk < 100; chunk++) {
        const { cursor: trimmedThrough } = yield* store.trimState([])
        if (trimmedThrough === archived) break
        const archivedAt = parseEventId(archived)
        const justCommitted = committed?.fromCursor === trimmedThrough && committed.toCursor === archived ? committed.events : undefined
        committed = undefined
        // Outlines: which entries each event holds is all a trim needs, not their contents.
        const events = justCommitted ?? (yield* store.eventOutlinesAfter(trimmedThrough, options.batchEvents)).filter((e) => {
          const id = parseEventId(e.id)
          return id.ms < archivedAt.ms || (id.ms === archivedAt.ms && id.seq <= archivedAt.seq)
        })
        const through = events.length === 0 ? archived : events[events.length - 1]!.id
        const transferIds = new Map<AccountRef, Array<string>>()
        const transferRefs = new Map<AccountRef, Array<string>>()
        for (const { transfer, eventId, position } of orderedTransfers(events)) {
          for (const account of [transfer.from, transfer.to]) {
            const ids = transferIds.get(account)
            if (ids) ids.push(transfer.transferId)
            else transferIds.set(account, [transfer.transferId])
            const refs = transferRefs.get(account)
            if (refs) refs.push(transferRef(eventId, position))
            else transferRefs.set(account, [transferRef(eventId, position)])
          }
        }
        const chunkEntries = entriesByAccount(events)
        const touched = [...new Set([...chunkEntries.keys(), ...transferIds.keys()])]
        const stopped = yield* history.stopped(touched)
        const accounts = touched.filter((a) => !stopped.has(a))
        const heads = yield* history.heads(accounts)
        // Entries are trimmed through the archived head, but no further than this chunk's events:
        // an event references its entries (stored once, in the ledger lists), so every event left in
        // Redis must find its entries there. Below the head, the archive's checksum of that entry.
        const trimTo = new Map<AccountRef, number>()
        for (const account of accounts) {
          const inChunk = chunkEntries.get(account)
          trimTo.set(account, Math.min(heads.get(account)?.seq ?? 0, inChunk?.[inChunk.length - 1]?.seq ?? 0))
        }
        const belowHead = accounts
          .filter((account) => trimTo.get(account)! > 0 && trimTo.get(account)! < heads.get(account)!.seq)
          .map((account) => ({ account, seq: trimTo.get(account)! }))
        const belowHeadSums = belowHead.length === 0 ? new Map<string, string>() : yield* history.checksums(belowHead)
        const throughChecksum = (account: AccountRef): string => {
          const seq = trimTo.get(account)!
          const head = heads.get(account)
          if (seq === 0 || head === undefined) return ""
          return seq === head.seq ? head.checksum : belowHeadSums.get(`${account}#${seq}`) ?? ""
        }
        // Accounts the archive stopped for keep their transfers, but their lists may reference this
        // chunk's events: trim.lua writes those transfers out in full before it removes the events.
        const kept = touched.filter((a) => stopped.has(a) && transferIds.has(a))
        const state = yield* store.trimState([...accounts, ...kept])
        const positions = accounts.flatMap((account) =>
          (transferIds.get(account) ?? []).map((transferId, i) => ({ account, idx: (state.transfersBase.get(account) ?? 0) + i, transferId }))
        )
        yield* history.recordPositions(positions)
        const result = yield* store.trimArchived({
          fromEventId: state.cursor,
          throughEventId: through,
          accounts: accounts.map((account) => ({
            account,
            entriesThroughSeq: trimTo.get(account)!,
            entriesThroughChecksum: throughChecksum(account),
            transfersBase: state.transfersBase.get(account) ?? 0,
            transferIds: transferIds.get(account) ?? [],
            transferRefs: transferRefs.get(account) ?? []
          })).concat(kept.map((account) => ({
            account,
            entriesThroughSeq: 0,
            entriesThroughChecksum: "",
            transfersBase: state.transfersBase.get(account) ?? 0,
            transferIds: transferIds.get(account)!,
            transferRefs: transferRefs.get(account)!,
            keepTransfers: true
          })))
        })
        if (result._tag === "CursorMoved") continue
        report.events += result.events
        report.entries += result.entries
        report.transfers += result.transfers
        report.skipped.push(...result.skipped)
        trimmedRows.inc({ kind: "events" }, result.events)
        trimmedRows.inc({ kind: "entries" }, result.entries)
        trimmedRows.inc({ kind: "transfers" }, result.transfers)
        for (const skip of result.skipped) {
          trimSkips.inc({ part: skip.split(" ")[1] ?? "unknown" })
          yield* Effect.logWarning("archiver left part of an account in Redis: it does not match what the archive holds").pipe(
            Effect.annotateLogs({ detail: skip })
          )
        }
      }
      return report
    })

    /**
     * What Redis must hold of a candidate for it to leave: the archive's state (or its marker) at a
     * version, and, for a pot, the archive's whole chain (head = the pot's head) and all its
     * transfers; else why not.
     */
    const retireCheck = (
      c: ArchivedClosedObject,
      inRedis: { readonly version: number; readonly value: unknown } | undefined,
      head: { readonly seq: number; readonly checksum: string } | undefined,
      positions: { readonly count: number; readonly next: number } | undefined
    ): RetireObject | string => {
      if (inRedis === undefined || inRedis.value === null) return "absent from Redis"
      const marker = archivedPotMarker(c.state)
      if (!isDeepStrictEqual(inRedis.value, c.state) && !(marker !== null && isDeepStrictEqual(inRedis.value, marker))) {
        return "Redis holds another state than the archive"
      }
      if (c.state.kind !== "pot") return { key: c.key, version: inRedis.version, entriesTrimmed: 0, transfersTrimmed: 0 }
      if (head === undefined || head.seq !== c.state.seq || head.checksum !== c.state.checksum) {
        return `the archive's chain ends at ${head === undefined ? "nothing" : `seq ${head.seq}`}, not at the pot's head seq ${c.state.seq}`
      }
      const count = positions?.count ?? 0
      if ((positions?.next ?? 0) !== count) return `the archive's transfer positions have a gap (${count} held, up to index ${positions!.next - 1})`
      return { key: c.key, version: inRedis.version, entriesTrimmed: head.seq, transfersTrimmed: count }
    }

    /**
     * Retirement: closed objects that closed more than `retentionMs` ago and that the archive holds
     * whole (the object in closed_objects, its chain and transfers archived and trimmed) leave Redis
     * entirely; reads then answer from PostgreSQL (TieredStore). Scans the archive's unretired
     * closed objects by closedAt; per batch: the archive's view and Redis' compared here, the
     * versions recorded in PostgreSQL, then retire.lua (lease and fencing token, compare-and-set per
     * object), then the retired ones marked. Objects left are logged and counted, and stay (correct,
     * only larger); they are looked at again at the next drain.
     */
    const retire = Effect.fn("Archiver.retire")(function*() {
      const report = { retired: 0, skipped: [] as Array<string> }
      if (!options.trim || options.retentionMs === undefined) return report
      const lease = yield* store.acquireArchiverLease(options.owner, options.leaseMs)
      if (lease._tag !== "Held") return report
      const now = yield* Clock.currentTimeMillis
      const closedBefore = now - options.retentionMs
      let after: ClosedPosition | null = null
      for (let call = 0; call < RETIRE_CALLS_PER_DRAIN; call++) {
        const candidates: ReadonlyArray<ArchivedClosedObject> = yield* history.retirable(closedBefore, after, RETIRE_BATCH)
        if (candidates.length === 0) break
        const last = candidates[candidates.length - 1]!
        after = { closedAt: last.closedAt, key: last.key }
        const keys = candidates.map((c) => c.key)
        const pots = candidates.filter((c) => c.state.kind === "pot").map((c) => c.key)
        const stopped = yield* history.stopped(pots)
        const heads = yield* history.heads(pots)
        const positions = yield* history.transferPositions(pots)
        const inRedis = (yield* store.load(keys)).objects
        const objects: Array<RetireObject> = []
        const left: Array<string> = []
        // Recorded before and absent now: an earlier retirement removed it from Redis and stopped
        // (a crash, PostgreSQL down) before marking it here; it only needs marking. Found so here on
        // Redis alone; through TieredStore the load answers it from PostgreSQL and retire.lua finds it absent.
        const gone: Array<string> = []
        for (const c of candidates) {
          const read = inRedis.get(c.key)
          if (!stopped.has(c.key) && c.version !== null && (read === undefined || read.value === null)) {
            gone.push(c.key)
            continue
          }
          const check = stopped.has(c.key)
            ? "the archiver stopped for this account"
            : retireCheck(c, read, heads.get(c.key), positions.get(c.key))
          if (typeof check === "string") left.push(`${c.key} ${check}`)
          else objects.push(check)
        }
        const removed: Array<string> = []
        if (objects.length > 0) {
          const recorded = yield* history.recordVersions(lease.token, objects.map((o) => ({ key: o.key, version: o.version })))
          if (recorded._tag === "Fenced") return report
          const result = yield* store.retireArchived({ owner: options.owner, token: lease.token, objects })
          if (result._tag === "NotLeased") return report
          removed.push(...result.retired)
          gone.push(...result.absent)
          left.push(...result.skipped)
        }
        // One mark for both; the gone ones are counted now, as the retirement that removed them stopped before it could.
        if (removed.length + gone.length > 0) {
          const marked = yield* history.markRetired(lease.token, [...removed, ...gone], now)
          if (marked._tag === "Fenced") return report
          report.retired += removed.length + gone.length
          trimmedRows.inc({ kind: "retired" }, removed.length + gone.length)
        }
        report.skipped.push(...left)
        for (const skip of left) {
          trimSkips.inc({ part: "retire" })
          yield* Effect.logWarning("archiver left a closed object in Redis past its retention: it does not match what the archive holds").pipe(
            Effect.annotateLogs({ detail: skip })
          )
        }
        if (candidates.length < RETIRE_BATCH) break
      }
      return report
    })

    const measureLag = Effect.gen(function*() {
      const { cursor } = yield* history.state()
      const lag = yield* archiveLag(store, cursor, yield* Clock.currentTimeMillis, 1)
      lagSeconds.set(lag.seconds)
    })

    const drain = Effect.fn("Archiver.drain")(function*(maxPasses = 100) {
      const reports: Array<PassReport> = []
      for (let i = 0; i < maxPasses; i++) {
        const report = yield* pass().pipe(
          Effect.tapError(() => Effect.sync(() => passes.inc({ outcome: "failed" })))
        )
        passes.inc({ outcome: report.outcome })
        reports.push(report)
        if (report.outcome === "committed") yield* trim()
        if (!report.more) break
      }
      const last = reports[reports.length - 1]?.outcome
      // A trim that failed after its batch committed (Redis down a moment) is caught up here.
      if (last === "idle") yield* trim()
      if (last !== "standby") {
        yield* retire()
        yield* measureLag
      }
      return reports
    })

    const release = Effect.fn("Archiver.release")(function*() {
      yield* store.releaseArchiverLease(options.owner)
      leader.set(0)
    })

    return Archiver.of({ pass, drain, trim, retire, release })
  })

  /** With settings from config (ARCHIVE_BATCH_EVENTS, ARCHIVE_LEASE_MS) and a fresh owner id. */
  static readonly layerWith = (options: Partial<ArchiverOptions> = {}) =>
    Layer.effect(Archiver, Archiver.make({
      batchEvents: options.batchEvents ?? 1_000,
      leaseMs: options.leaseMs ?? 15_000,
      owner: options.owner ?? randomUUID(),
      trim: options.trim ?? false,
      retentionMs: options.retentionMs
    }))
}

import { Clock, Effect, Layer } from "effect"
import { sameFingerprint } from "../../domain/fingerprint.ts"
import { ABSENT, type AccountRef, type PotState, type SystemAccount, type Versioned } from "../../domain/accounts.ts"
import type { LedgerEntry } from "../../domain/ledgerEntry.ts"
import type { StatName } from "../../domain/plan.ts"
import type { Transfer } from "../../domain/transfer.ts"
import {
  type ApplyRequest,
  type ApplyResult,
  type CompactObject,
  type CompactResult,
  type EventPage,
  type IdempotencyRecord,
  type LeaseResult,
  type Page,
  type RetireRequest,
  type RetireResult,
  Store,
  type StoreEvent,
  type TransferPage,
  type TrimRequest,
  type TrimResult
} from "../Store.ts"

/**
 * The store port in process memory, with exactly the semantics of apply.lua
 * (same check order, same outcomes). Used by unit tests and BALANCE_STORE=memory.
 */
const make = () => {
  const objects = new Map<string, Versioned>()
  const ledgers = new Map<AccountRef, Array<LedgerEntry>>()
  const transferLists = new Map<AccountRef, Array<Transfer>>()
  const idempotency = new Map<string, IdempotencyRecord & { readonly expiresAt: number }>()
  const expiry = new Map<string, number>()
  const system: Record<SystemAccount, number> = { mint: 0, burn: 0, rake: 0 }
  const stats = new Map<StatName, number>()
  const accountIndex = new Set<AccountRef>()
  /** Closed accounts by (closedAt, ref), as Redis orders the P closed zset. */
  const closedIndex: Array<{ readonly account: AccountRef; readonly closedAt: number }> = []
  const events: Array<StoreEvent> = []
  let eventCounter = 0
  /** lease.lua's state: holder, token and deadline; the counter of tokens handed out. */
  let lease: { readonly owner: string; readonly token: number; expiresAt: number } | undefined
  let leaseTokens = 0
  let archiveId: string | undefined

  const read = (key: string): Versioned => objects.get(key) ?? ABSENT
  const liveRecord = (key: string, now: number) => {
    const r = idempotency.get(key)
    if (r && r.expiresAt <= now) {
      idempotency.delete(key)
      return undefined
    }
    return r
  }
  const append = <A>(map: Map<string, Array<A>>, key: string, item: A) => {
    const list = map.get(key)
    if (list) list.push(item)
    else map.set(key, [item])
  }

  const closedBefore = (a: { account: AccountRef; closedAt: number }, b: { account: AccountRef; closedAt: number }) =>
    a.closedAt < b.closedAt || (a.closedAt === b.closedAt && a.account < b.account)

  const applyNow = (request: ApplyRequest, now: number): ApplyResult => {
    const { plan } = request
    if (request.idempotency) {
      const existing = liveRecord(request.idempotency.key, now)
      if (existing) {
        return sameFingerprint(existing.fingerprint, request.idempotency.fingerprint)
          ? { _tag: "Replayed", response: existing.response }
          : { _tag: "KeyReused" }
      }
    }
    if (plan.expected.some((e) => read(e.key).version !== e.version)) {
      return { _tag: "Conflict", current: new Map(plan.expected.map((e) => [e.key, read(e.key)])) }
    }
    for (const s of plan.system) {
      if (!Number.isSafeInteger(system[s.account] + s.delta)) return { _tag: "Overflow", account: s.account }
    }
    for (const w of plan.writes) objects.set(w.key, { version: w.version, value: w.value })
    for (const e of plan.entries) append(ledgers, e.accountId, e)
    for (const t of plan.transfers) {
      append(transferLists, t.from, t)
      append(transferLists, t.to, t)
    }
    for (const s of plan.system) system[s.account] += s.delta
    for (const s of plan.stats) stats.set(s.name, (stats.get(s.name) ?? 0) + s.delta)
    for (const id of plan.expiryRemove) expiry.delete(id)
    for (const x of plan.expiryAdd) expiry.set(x.reservationId, x.expiresAt)
    for (const ref of plan.newAccounts) accountIndex.add(ref)
    for (const c of plan.closedAccounts) {
      accountIndex.delete(c.account)
      // Pots close in time order nearly always: walk back from the end to the insertion point.
      let at = closedIndex.length
      while (at > 0 && closedBefore(c, closedIndex[at - 1]!)) at--
      closedIndex.splice(at, 0, c)
    }
    if (plan.entries.length > 0 || plan.transfers.length > 0) {
      eventCounter += 1
      events.push({ id: `${eventCounter}-0`, entries: plan.entries, transfers: plan.transfers })
    }
    if (request.idempotency) {
      idempotency.set(request.idempotency.key, {
        fingerprint: request.idempotency.fingerprint,
        response: request.responseJson,
        expiresAt: now + request.idempotency.ttlMs
      })
    }
    return { _tag: "Applied" }
  }

  const eventNumber = (id: string) => Number(id.split("-")[0])

  /** trim.lua's bookkeeping: last trimmed event, entries trimmed through (seq) and transfers trimmed (count) per account. */
  let trimCursor = "0"
  const entriesTrimmed = new Map<AccountRef, number>()
  const transfersTrimmed = new Map<AccountRef, number>()

  const entryPage = (account: AccountRef, afterSeq: number, limit: number) => {
    const trimmedThrough = entriesTrimmed.get(account) ?? 0
    const first = Math.max(0, afterSeq - trimmedThrough)
    return { entries: (ledgers.get(account) ?? []).slice(first, first + Math.max(0, limit)), trimmedThrough }
  }

  /** trim.lua in memory: the same checks before any change, the same per-part skips. */
  const trimNow = (request: TrimRequest): TrimResult => {
    if (trimCursor !== request.fromEventId) return { _tag: "CursorMoved", cursor: trimCursor }
    const skipped: Array<string> = []
    const plans: Array<{ readonly account: AccountRef; readonly pop: number; readonly seq: number; readonly popTransfers: number }> = []
    for (const a of request.accounts) {
      const through = entriesTrimmed.get(a.account) ?? 0
      let pop = 0
      if (a.entriesThroughSeq > through) {
        const last = (ledgers.get(a.account) ?? [])[a.entriesThroughSeq - through - 1]
        if (last?.seq === a.entriesThroughSeq && last.checksum === a.entriesThroughChecksum) pop = a.entriesThroughSeq - through
        else skipped.push(`${a.account} entries the entry at seq ${a.entriesThroughSeq} in Redis is not the archived one`)
      }
      let popTransfers = 0
      // Mode "keep" (an account the archive stopped for): its transfers stay. This store holds every
      // transfer in full: nothing references an event, nothing to materialise (trim.lua).
      if (a.transferIds.length > 0 && a.keepTransfers !== true) {
        const heads = (transferLists.get(a.account) ?? []).slice(0, a.transferIds.length)
        const matches = (transfersTrimmed.get(a.account) ?? 0) === a.transfersBase && heads.length === a.transferIds.length &&
          heads.every((t, i) => t.transferId === a.transferIds[i])
        if (matches) popTransfers = a.transferIds.length
        else skipped.push(`${a.account} transfers the list does not start with the archived transfers at index ${a.transfersBase}`)
      }
      plans.push({ account: a.account, pop, seq: a.entriesThroughSeq, popTransfers })
    }
    let entryCount = 0
    let transferCount = 0
    for (const p of plans) {
      if (p.pop > 0) {
        ledgers.get(p.account)?.splice(0, p.pop)
        entriesTrimmed.set(p.account, p.seq)
        entryCount += p.pop
      }
      if (p.popTransfers > 0) {
        transferLists.get(p.account)?.splice(0, p.popTransfers)
        transfersTrimmed.set(p.account, (transfersTrimmed.get(p.account) ?? 0) + p.popTransfers)
        transferCount += p.popTransfers
      }
    }
    const keep = events.findIndex((e) => eventNumber(e.id) > eventNumber(request.throughEventId))
    const removed = keep === -1 ? events.length : keep
    events.splice(0, removed)
    trimCursor = request.throughEventId
    return { _tag: "Trimmed", entries: entryCount, transfers: transferCount, events: removed, skipped }
  }

  /** compact.lua in memory: the same checks of the call and of every object before any change. */
  const compactNow = (objectsToCompact: ReadonlyArray<CompactObject>): CompactResult => {
    for (const [i, o] of objectsToCompact.entries()) {
      const m = o.marker
      if (!Number.isSafeInteger(o.version) || o.version < 1) throw new RangeError(`compact: the version of object ${i + 1} is not positive`)
      if (m.kind !== "pot" || m.status !== "SETTLED" || m.archived !== true || m.contributions.length !== 0) {
        throw new RangeError(`compact: the marker of object ${i + 1} is not an archived settled pot with no contributions`)
      }
    }
    const head = ["tableId", "handId", "seq", "checksum", "balance", "createdAt", "closedAt"] as const
    const outcomes = objectsToCompact.map((o): string => {
      const stored = objects.get(o.key)
      if (stored === undefined) return "absent"
      if (stored.version !== o.version) return `at version ${stored.version}, not ${o.version}`
      const pot = stored.value as PotState | null
      if (pot?.kind !== "pot" || pot.status !== "SETTLED") return "not a settled pot"
      if (pot.archived === true) return "already a marker"
      const differs = head.find((field) => pot[field] !== o.marker[field])
      return differs === undefined ? "" : `its ${differs} is not the marker's`
    })
    const compacted: Array<string> = []
    const skipped: Array<string> = []
    objectsToCompact.forEach((o, i) => {
      if (outcomes[i] === "") {
        objects.set(o.key, { version: o.version, value: o.marker })
        compacted.push(o.key)
      } else {
        skipped.push(`${o.key} ${outcomes[i]}`)
      }
    })
    return { compacted, skipped }
  }

  /** retire.lua in memory: the lease, then every object checked before any change. */
  const retireNow = (request: RetireRequest, now: number): RetireResult => {
    const holder = lease && lease.expiresAt > now ? `${lease.owner} ${lease.token}` : ""
    if (holder !== `${request.owner} ${request.token}`) return { _tag: "NotLeased", current: holder }
    const outcomes = request.objects.map((o): string => {
      const stored = objects.get(o.key)
      if (stored === undefined || stored.value === null) return "absent"
      if (stored.version !== o.version) return `at version ${stored.version}, not ${o.version}`
      const state = stored.value
      if (state.kind === "pot") {
        if (state.status === "ACTIVE") return "not a closed pot"
        if (state.balance !== 0) return `a closed pot holding ${state.balance}`
        if (state.seq !== o.entriesTrimmed) return `its head is seq ${state.seq}, not the archived ${o.entriesTrimmed}`
      } else if (state.kind === "reservation") {
        if (state.status === "HELD") return "a held reservation"
      } else {
        return "not a pot or reservation"
      }
      const e = entriesTrimmed.get(o.key) ?? 0
      const t = transfersTrimmed.get(o.key) ?? 0
      if ((ledgers.get(o.key)?.length ?? 0) !== 0 || (transferLists.get(o.key)?.length ?? 0) !== 0) {
        return "its ledger or transfer list is not empty"
      }
      if (e !== o.entriesTrimmed || t !== o.transfersTrimmed) {
        return `trimmed e:${e} t:${t} in Redis, e:${o.entriesTrimmed} t:${o.transfersTrimmed} archived`
      }
      return ""
    })
    const retired: Array<string> = []
    const absent: Array<string> = []
    const skipped: Array<string> = []
    request.objects.forEach((o, i) => {
      if (outcomes[i] === "absent") {
        absent.push(o.key)
        return
      }
      if (outcomes[i] !== "") {
        skipped.push(`${o.key} ${outcomes[i]}`)
        return
      }
      objects.delete(o.key)
      ledgers.delete(o.key)
      transferLists.delete(o.key)
      entriesTrimmed.delete(o.key)
      transfersTrimmed.delete(o.key)
      const at = closedIndex.findIndex((c) => c.account === o.key)
      if (at >= 0) closedIndex.splice(at, 1)
      retired.push(o.key)
    })
    return { _tag: "Retired", retired, absent, skipped }
  }

  return Store.of({
    load: (keys, idempotencyKey) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const record = idempotencyKey ? liveRecord(idempotencyKey, now) : undefined
        return {
          objects: new Map(keys.map((k) => [k, read(k)])),
          idempotency: record ? { fingerprint: record.fingerprint, response: record.response } : null
        }
      }),
    apply: (request) => Effect.map(Clock.currentTimeMillis, (now) => applyNow(request, now)),
    entries: (account, afterSeq, limit) => Effect.sync(() => entryPage(account, afterSeq, limit).entries),
    entryPage: (account, afterSeq, limit) => Effect.sync(() => entryPage(account, afterSeq, limit)),
    transfers: (account, cursor, limit) =>
      Effect.sync((): TransferPage => {
        // Absolute indexes, as transfers.lua: `floor` transfers were trimmed from the list's front.
        const list = transferLists.get(account) ?? []
        const floor = transfersTrimmed.get(account) ?? 0
        const total = floor + list.length
        const end = cursor === null ? total : Math.min(Number(cursor), total)
        const start = Math.min(end, Math.max(floor, end - Math.max(0, limit)))
        return { items: list.slice(start - floor, end - floor).reverse(), nextCursor: start > 0 ? String(start) : null, floor }
      }),
    events: (cursor, limit) =>
      Effect.sync((): EventPage => {
        const before = cursor === null ? Infinity : eventNumber(cursor)
        const older = events.filter((e) => eventNumber(e.id) < before)
        const items = limit <= 0 ? [] : older.slice(-limit).reverse()
        const last = items[items.length - 1]
        return { items, nextCursor: last && older.length > items.length ? last.id : null, trimmedThrough: trimCursor }
      }),
    eventsAfter: (afterId, limit) =>
      Effect.sync(() => events.filter((e) => eventNumber(e.id) > eventNumber(afterId)).slice(0, limit)),
    eventOutlinesAfter: (afterId, limit) =>
      Effect.sync(() =>
        events.filter((e) => eventNumber(e.id) > eventNumber(afterId)).slice(0, limit).map((e) => ({
          id: e.id,
          entries: e.entries.map((x) => ({ accountId: x.accountId, seq: x.seq })),
          transfers: e.transfers
        }))
      ),
    accounts: (cursor, limit, prefix) =>
      Effect.sync((): Page<AccountRef> => {
        const all = [...accountIndex].filter((r) => (prefix ? r.startsWith(prefix) : true) && (cursor === null || r > cursor)).sort()
        const items = all.slice(0, limit)
        return { items, nextCursor: all.length > limit && items.length > 0 ? items[items.length - 1]! : null }
      }),
    closedAccounts: (since, cursor, limit) =>
      Effect.sync((): Page<AccountRef> => {
        const matching = closedIndex.filter((c) => c.closedAt >= since)
        const offset = cursor === null ? 0 : Number(cursor)
        const items = matching.slice(offset, offset + Math.max(0, limit)).map((c) => c.account)
        return { items, nextCursor: offset + items.length < matching.length && items.length > 0 ? String(offset + items.length) : null }
      }),
    dueReservations: (now, limit) =>
      Effect.sync(() =>
        [...expiry].filter(([, at]) => at <= now).sort((a, b) => a[1] - b[1]).slice(0, limit).map(([id]) => id)
      ),
    systemBalances: () => Effect.sync(() => ({ ...system })),
    stats: () => Effect.sync(() => Object.fromEntries(stats) as Partial<Record<StatName, number>>),
    ping: () => Effect.void,
    acquireArchiverLease: (owner, ttlMs) =>
      Effect.map(Clock.currentTimeMillis, (now): LeaseResult => {
        if (lease && lease.expiresAt <= now) lease = undefined
        if (lease && lease.owner !== owner) return { _tag: "HeldByOther", owner: lease.owner }
        if (lease) {
          lease.expiresAt = now + Math.max(1, Math.floor(ttlMs))
          return { _tag: "Held", token: lease.token }
        }
        leaseTokens += 1
        lease = { owner, token: leaseTokens, expiresAt: now + Math.max(1, Math.floor(ttlMs)) }
        return { _tag: "Held", token: leaseTokens }
      }),
    claimArchiveId: (id) => Effect.sync(() => archiveId ??= id),
    archiveIdOfRedis: () => Effect.sync(() => archiveId ?? null),
    trimState: (accounts) =>
      Effect.sync(() => ({ cursor: trimCursor, transfersBase: new Map(accounts.map((a) => [a, transfersTrimmed.get(a) ?? 0])) })),
    trimArchived: (request) => Effect.sync(() => trimNow(request)),
    compactArchived: (request) => Effect.sync(() => compactNow(request)),
    retireArchived: (request) => Effect.map(Clock.currentTimeMillis, (now) => retireNow(request, now)),
    archivedObject: () => Effect.succeed(null),
    archiverLease: () =>
      Effect.map(Clock.currentTimeMillis, (now) => (lease && lease.expiresAt > now ? { owner: lease.owner, token: lease.token } : null)),
    releaseArchiverLease: (owner) =>
      Effect.sync(() => {
        if (lease?.owner === owner) lease = undefined
      }),
    awaitReplication: () => Effect.void
  })
}

/** The Store in process memory: `make` for a store of one's own, `layer` for a fresh one per layer build. */
export const MemoryStore = {
  make,
  layer: Layer.sync(Store, make)
} as const

import type { AccountRef } from "../../domain/accounts.ts"
import type { ApplyRequest, CompactObject, RetireRequest, TrimRequest } from "../Store.ts"
import type { RedisKeys } from "./redisKeys.ts"
import { compactFingerprint } from "../../domain/fingerprint.ts"
import { UNCAPPED_STREAM } from "./redisStoreOptions.ts"
import { encodeStoredResponse } from "./storedResponse.ts"
import { count, each, nested, one, type ScriptCall, type ScriptLayout } from "./scriptLayout.ts"

/**
 * The KEYS and ARGV of every store script, in the order of its header (checked by
 * test/store/scriptHeaders.test.ts). Every number goes as a decimal string and every object as
 * finished JSON: the scripts store them verbatim, so no value passes through Lua's number
 * formatting (14 significant digits).
 */

const decimal = (n: number): string => {
  if (!Number.isSafeInteger(n)) throw new RangeError(`the store's scripts take safe integers only, got ${n}`)
  return String(n)
}

/** One plan of an apply.lua call. */
export interface ApplyPlanInput {
  readonly request: ApplyRequest
  readonly keys: RedisKeys
  /** Unix ms by the Redis clock after which the script must not write this plan (0: no deadline). */
  readonly deadlineMs: number
  /** Write the idempotency record as one compact string (IDEMPOTENCY_RECORDS=compact). */
  readonly compactIdempotency: boolean
}

/** One plan's KEYS and ARGV ("Plan KEYS", "Plan ARGV" in apply.lua's header), positions from its first. */
export const applyPlanLayout: ScriptLayout<ApplyPlanInput> = {
  script: "apply.lua",
  keys: [
    each("idempotency", "mode", ["key"], (i) => (i.request.idempotency ? [i.request.idempotency.key] : []), (k, i) =>
      i.keys.idempotency(k)),
    each("expected", "nExpected", ["key"], (i) => i.request.plan.expected, (e, i) => i.keys.object(e.key)),
    each("write", "nWrites", ["key"], (i) => i.request.plan.writes, (w, i) => i.keys.object(w.key)),
    each("entry", "nEntries", ["ledger"], (i) => i.request.plan.entries, (e, i) => i.keys.ledger(e.accountId)),
    each("transfer", "nTransfers", ["fromList", "toList"], (i) => i.request.plan.transfers, (t, i) =>
      [i.keys.transfers(t.from), i.keys.transfers(t.to)])
  ],
  argv: [
    one("mode", (i) => (i.request.idempotency ? (i.compactIdempotency ? "2" : "1") : "0")),
    one("fingerprint", (i) => {
      const fingerprint = i.request.idempotency?.fingerprint ?? ""
      if (!/^[0-9a-f]{64}$/.test(fingerprint) && i.request.idempotency !== null) {
        throw new RangeError("an idempotency fingerprint is 64 hex digits (SHA-256)")
      }
      return i.compactIdempotency && i.request.idempotency !== null ? compactFingerprint(fingerprint) : fingerprint
    }),
    // Stored only with a key: compact records keep the smaller form (storedResponse.ts), hashes the JSON.
    one("response", (i) =>
      i.request.idempotency === null
        ? ""
        : i.compactIdempotency
        ? encodeStoredResponse(i.request.plan.response)
        : i.request.responseJson),
    one("ttlMs", (i) => decimal(Math.max(1, i.request.idempotency?.ttlMs ?? 1))),
    one("deadlineMs", (i) => decimal(i.deadlineMs)),
    count("nExpected"),
    count("nWrites"),
    count("nEntries"),
    count("nTransfers"),
    count("nSystem"),
    count("nStats"),
    count("nExpiryRemove"),
    count("nExpiryAdd"),
    count("nNewAccounts"),
    count("nClosedAccounts"),
    one("entryRefs", (i) => JSON.stringify(i.request.plan.entries.map((e) => [e.accountId, e.seq]))),
    each("expected", "nExpected", ["version"], (i) => i.request.plan.expected, (e) => decimal(e.version)),
    each("write", "nWrites", ["version", "json"], (i) => i.request.plan.writes, (w) => [decimal(w.version), JSON.stringify(w.value)]),
    each("entry", "nEntries", ["json"], (i) => i.request.plan.entries, (e) => JSON.stringify(e)),
    each("transfer", "nTransfers", ["json"], (i) => i.request.plan.transfers, (t) => JSON.stringify(t)),
    each("system", "nSystem", ["account", "delta"], (i) => i.request.plan.system, (s) => [s.account, decimal(s.delta)]),
    each("stat", "nStats", ["name", "delta"], (i) => i.request.plan.stats, (s) => [s.name, decimal(s.delta)]),
    each("expiryRemove", "nExpiryRemove", ["reservationId"], (i) => i.request.plan.expiryRemove, (id) => id),
    each(
      "expiryAdd",
      "nExpiryAdd",
      ["reservationId", "expiresAt"],
      (i) => i.request.plan.expiryAdd,
      (x) => [x.reservationId, decimal(x.expiresAt)]
    ),
    each("newAccount", "nNewAccounts", ["account"], (i) => i.request.plan.newAccounts, (a) => a),
    each(
      "closedAccount",
      "nClosedAccounts",
      ["account", "closedAt"],
      (i) => i.request.plan.closedAccounts,
      (c) => [c.account, decimal(c.closedAt)]
    )
  ]
}

/** One apply.lua call: a batch of plans, each built by applyPlanLayout (a single apply: a batch of one). */
export interface ApplyInput {
  readonly keys: RedisKeys
  /** The stream's cap (MAXLEN ~), or UNCAPPED_STREAM: the transfer lists then reference the stream. */
  readonly eventsMaxLen: number
  /** "full": the lists hold every transfer even with UNCAPPED_STREAM (TRANSFER_LISTS=full); default "refs". */
  readonly transferLists?: "refs" | "full" | undefined
  /** Each plan's call, from scriptCall(applyPlanLayout, ...). */
  readonly plans: ReadonlyArray<ScriptCall>
}

export const applyLayout: ScriptLayout<ApplyInput> = {
  script: "apply.lua",
  keys: [
    one("system", (i) => i.keys.system),
    one("stats", (i) => i.keys.stats),
    one("expiry", (i) => i.keys.expiry),
    one("accounts", (i) => i.keys.accounts),
    one("events", (i) => i.keys.events),
    one("closed", (i) => i.keys.closed),
    nested("plan", "nPlans", "Plan KEYS", applyPlanLayout, "keys", (i) => i.plans)
  ],
  argv: [
    count("nPlans"),
    // "none": uncapped, and the lists reference the stream. Uncapped with lists in full: the cap
    // 2^53-1, which no stream reaches.
    one("eventsMaxLen", (i) =>
      (i.eventsMaxLen === UNCAPPED_STREAM && i.transferLists !== "full" ? "none" : decimal(i.eventsMaxLen))),
    nested("plan", "nPlans", "Plan ARGV", applyPlanLayout, "args", (i) => i.plans)
  ]
}

export interface LoadInput {
  readonly objectKeys: ReadonlyArray<string>
  readonly idempotencyKey: string | undefined
  readonly keys: RedisKeys
}

export const loadLayout: ScriptLayout<LoadInput> = {
  script: "load.lua",
  keys: [
    // nObjects is not sent: load.lua takes every key but the idempotency record's.
    each("object", "nObjects", ["key"], (i) => i.objectKeys, (k, i) => i.keys.object(k)),
    each("idempotency", "hasIdempotency", ["key"], (i) => (i.idempotencyKey === undefined ? [] : [i.idempotencyKey]), (k, i) =>
      i.keys.idempotency(k))
  ],
  argv: [one("hasIdempotency", (i) => (i.idempotencyKey === undefined ? "0" : "1"))]
}

export interface LedgerPageInput {
  readonly account: AccountRef
  readonly afterSeq: number
  readonly limit: number
  readonly keys: RedisKeys
}

export const ledgerLayout: ScriptLayout<LedgerPageInput> = {
  script: "ledger.lua",
  keys: [one("ledger", (i) => i.keys.ledger(i.account)), one("trimmed", (i) => i.keys.trimmed)],
  argv: [
    one("afterSeq", (i) => String(Math.max(0, Math.floor(i.afterSeq)))),
    one("limit", (i) => String(Math.floor(i.limit))),
    one("account", (i) => i.account)
  ]
}

export interface TransferPageInput {
  readonly account: AccountRef
  /** An absolute index (validated by the caller), or null for the newest. */
  readonly cursor: string | null
  readonly limit: number
  readonly keys: RedisKeys
}

export const transfersLayout: ScriptLayout<TransferPageInput> = {
  script: "transfers.lua",
  keys: [
    one("transfers", (i) => i.keys.transfers(i.account)),
    one("trimmed", (i) => i.keys.trimmed),
    one("events", (i) => i.keys.events)
  ],
  argv: [
    one("cursor", (i) => i.cursor ?? ""),
    one("limit", (i) => String(Math.max(0, Math.floor(i.limit)))),
    one("account", (i) => i.account)
  ]
}

export interface EventsPageInput {
  readonly direction: "asc" | "desc"
  /** A stream id (validated by the caller; exclusive), or null for the start ("asc") or the end ("desc"). */
  readonly from: string | null
  readonly count: number
  /** "entries": each event with its entries; "outline": with references to them (EventOutline). */
  readonly detail: "entries" | "outline"
  readonly keys: RedisKeys
}

export const eventsLayout: ScriptLayout<EventsPageInput> = {
  script: "events.lua",
  keys: [one("events", (i) => i.keys.events), one("trimmed", (i) => i.keys.trimmed)],
  argv: [
    one("direction", (i) => i.direction),
    one("from", (i) => i.from ?? ""),
    one("count", (i) => String(Math.max(1, Math.floor(i.count)))),
    one("prefix", (i) => i.keys.prefix),
    one("detail", (i) => i.detail)
  ]
}

export interface LeaseInput {
  readonly action: "acquire" | "release"
  readonly owner: string
  /** acquire only; a release sends "0", which lease.lua does not read. */
  readonly durationMs: number
  readonly keys: RedisKeys
}

export const leaseLayout: ScriptLayout<LeaseInput> = {
  script: "lease.lua",
  keys: [one("lease", (i) => i.keys.archiverLease), one("token", (i) => i.keys.archiverToken)],
  argv: [
    one("action", (i) => i.action),
    one("owner", (i) => i.owner),
    one("durationMs", (i) => (i.action === "acquire" ? String(Math.max(1, Math.floor(i.durationMs))) : "0"))
  ]
}

/** The stream id right after `id` (`<ms>-<seq + 1>`): XTRIM MINID keeps ids from it on. */
const nextStreamId = (id: string): string => {
  const [ms, seq] = id.split("-")
  return `${ms}-${Number(seq ?? 0) + 1}`
}

export interface TrimInput {
  readonly request: TrimRequest
  readonly keys: RedisKeys
}

export const trimLayout: ScriptLayout<TrimInput> = {
  script: "trim.lua",
  keys: [
    one("trimmed", (i) => i.keys.trimmed),
    one("events", (i) => i.keys.events),
    each("account", "nAccounts", ["ledger", "transfers"], (i) => i.request.accounts, (a, i) =>
      [i.keys.ledger(a.account), i.keys.transfers(a.account)])
  ],
  argv: [
    one("cursor", (i) => i.request.fromEventId),
    one("through", (i) => i.request.throughEventId),
    one("keepFrom", (i) => nextStreamId(i.request.throughEventId)),
    count("nAccounts"),
    each(
      "account",
      "nAccounts",
      ["account", "entriesSeq", "entriesChecksum", "transfersBase", "transfersMode", "nTransfers", "...transferIdsThenRefs"],
      (i) => i.request.accounts,
      (a) => {
        const refs = a.transferRefs ?? []
        if (refs.length !== 0 && refs.length !== a.transferIds.length) {
          throw new RangeError(`trim of ${a.account}: ${refs.length} transfer refs for ${a.transferIds.length} transfer ids`)
        }
        return [
          a.account,
          String(a.entriesThroughSeq),
          a.entriesThroughChecksum,
          String(a.transfersBase),
          a.keepTransfers === true ? "keep" : "pop",
          String(a.transferIds.length),
          ...a.transferIds,
          ...a.transferIds.map((_, j) => refs[j] ?? "")
        ]
      }
    )
  ]
}

export interface CompactInput {
  readonly objects: ReadonlyArray<CompactObject>
  readonly keys: RedisKeys
}

export const compactLayout: ScriptLayout<CompactInput> = {
  script: "compact.lua",
  keys: [each("object", "nObjects", ["key"], (i) => i.objects, (o, i) => i.keys.object(o.key))],
  argv: [
    count("nObjects"),
    each("object", "nObjects", ["version", "marker"], (i) => i.objects, (o) => [decimal(o.version), JSON.stringify(o.marker)])
  ]
}

export interface RetireInput {
  readonly request: RetireRequest
  readonly keys: RedisKeys
}

export const retireLayout: ScriptLayout<RetireInput> = {
  script: "retire.lua",
  keys: [
    one("lease", (i) => i.keys.archiverLease),
    one("trimmed", (i) => i.keys.trimmed),
    one("closed", (i) => i.keys.closed),
    each("object", "nObjects", ["object", "ledger", "transfers"], (i) => i.request.objects, (o, i) =>
      [i.keys.object(o.key), i.keys.ledger(o.key), i.keys.transfers(o.key)])
  ],
  argv: [
    one("holder", (i) => `${i.request.owner} ${decimal(i.request.token)}`),
    count("nObjects"),
    each("object", "nObjects", ["key", "version", "entriesTrimmed", "transfersTrimmed"], (i) => i.request.objects, (o) =>
      [o.key, decimal(o.version), decimal(o.entriesTrimmed), decimal(o.transfersTrimmed)])
  ]
}

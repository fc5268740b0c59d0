import { ABSENT, type AccountRef, isSystemAccount, type StoredObject, type Versioned } from "../../domain/accounts.ts"
import type { LedgerEntry } from "../../domain/ledgerEntry.ts"
import type { Transfer } from "../../domain/transfer.ts"
import type { ApplyResult, CompactResult, EventOutline, LeaseResult, RetireResult, Snapshot, StoreEvent, TransferPage, TrimResult } from "../Store.ts"
import { hexFingerprint } from "../../domain/fingerprint.ts"
import { decodeStoredResponse } from "./storedResponse.ts"

/**
 * The one place that reads the store scripts' replies (documented in their headers). A coded
 * reply is read through its script's table of codes, whose keys test/store/scriptHeaders.test.ts
 * holds equal to the codes the header lists. A reply that matches nothing means script and code
 * disagree: a bug, thrown, never mistaken for an outcome.
 */

export class UnexpectedScriptReply extends Error {
  constructor(script: string, reply: unknown) {
    super(`${script} returned an unexpected reply: ${JSON.stringify(reply)?.slice(0, 300)}`)
    this.name = "UnexpectedScriptReply"
  }
}

type Reply = ReadonlyArray<string | null>

/** A script reply as Lua returns a table of strings (nil holes read as null). */
const strings = (script: string, reply: unknown): Reply => {
  if (!Array.isArray(reply) || !reply.every((x) => x === null || typeof x === "string")) {
    throw new UnexpectedScriptReply(script, reply)
  }
  return reply
}

/** How each code of a script reads; `undefined`: the code's fields are malformed. */
type ReplyCodes<A, Ctx = void> = Readonly<Record<string, (reply: Reply, ctx: Ctx) => A | undefined>>

const coded = <A, Ctx>(script: string, codes: ReplyCodes<A, Ctx>, raw: unknown, ctx: Ctx): A => {
  const reply = strings(script, raw)
  const code = reply[0]
  const read = typeof code === "string" && Object.hasOwn(codes, code) ? codes[code] : undefined
  const result = read?.(reply, ctx)
  if (result === undefined) throw new UnexpectedScriptReply(script, raw)
  return result
}

/** A stored object from its hash fields `v` and `d` (version "0" or missing: absent). */
export const versionedFrom = (version: string | null | undefined, data: string | null | undefined): Versioned => {
  const v = Number(version ?? "0")
  if (!Number.isSafeInteger(v) || v < 0) throw new UnexpectedScriptReply("object version", version)
  if (v === 0 || !data) return ABSENT
  return { version: v, value: JSON.parse(data) as StoredObject }
}

/** Pairs `v1, d1, v2, d2, ...` (as CONFLICT and load.lua return them) keyed by the object keys in order. */
const versionedPairs = (keys: ReadonlyArray<string>, flat: Reply, offset: number): Map<string, Versioned> => {
  if (flat.length !== offset + 2 * keys.length) throw new UnexpectedScriptReply("versioned pairs", flat)
  return new Map(keys.map((key, i) => [key, versionedFrom(flat[offset + 2 * i], flat[offset + 2 * i + 1])]))
}

/** apply.lua's answers: the port's outcomes, plus LATE (its deadline passed, nothing written), which the store retries. */
export type ScriptOutcome = ApplyResult | { readonly _tag: "Late" }

const applyCodes: ReplyCodes<ScriptOutcome, ReadonlyArray<string>> = {
  APPLIED: () => ({ _tag: "Applied" }),
  REPLAYED: (r) => ({ _tag: "Replayed", response: decodeStoredResponse(r[1] ?? "") }),
  KEY_REUSED: () => ({ _tag: "KeyReused" }),
  CONFLICT: (r, expectedKeys) => ({ _tag: "Conflict", current: versionedPairs(expectedKeys, r, 1) }),
  OVERFLOW: (r) => (isSystemAccount(r[1]) ? { _tag: "Overflow", account: r[1] } : undefined),
  LATE: () => ({ _tag: "Late" })
}

/** One plan's reply; `expectedKeys`: the plan's expected object keys, in order (CONFLICT carries their state). */
export const applyResult = (expectedKeys: ReadonlyArray<string>, reply: unknown): ScriptOutcome =>
  coded("apply.lua", applyCodes, reply, expectedKeys)

/**
 * apply.lua's reply to a batch of `nPlans`: one reply per plan, in plan order (each read by
 * applyResult). A reply of another shape is a bug (script and caller disagree), thrown.
 */
export const applyBatchReplies = (nPlans: number, reply: unknown): ReadonlyArray<unknown> => {
  if (!Array.isArray(reply) || reply.length !== nPlans) throw new UnexpectedScriptReply("apply.lua", reply)
  return reply
}

const leaseAcquireCodes: ReplyCodes<LeaseResult> = {
  ACQUIRED: (r) => (r[1] != null ? { _tag: "Held", token: Number(r[1]) } : undefined),
  RENEWED: (r) => (r[1] != null ? { _tag: "Held", token: Number(r[1]) } : undefined),
  HELD: (r) => ({ _tag: "HeldByOther", owner: r[1] ?? "" })
}

export const leaseAcquireResult = (reply: unknown): LeaseResult => coded("lease.lua", leaseAcquireCodes, reply, undefined)

/** A release answers whether the owner held the lease; either way nothing is left to do. */
const leaseReleaseCodes: ReplyCodes<"released" | "notHeld"> = {
  RELEASED: () => "released",
  NOT_HELD: () => "notHeld"
}

export const leaseReleaseResult = (reply: unknown): "released" | "notHeld" =>
  coded("lease.lua", leaseReleaseCodes, reply, undefined)

const trimCodes: ReplyCodes<TrimResult> = {
  TRIMMED: (r) => ({
    _tag: "Trimmed",
    entries: Number(r[1]),
    transfers: Number(r[2]),
    events: Number(r[3]),
    skipped: r.slice(4).map((x) => x ?? "")
  }),
  CURSOR_MOVED: (r) => ({ _tag: "CursorMoved", cursor: r[1] ?? "0" })
}

export const trimResult = (reply: unknown): TrimResult => coded("trim.lua", trimCodes, reply, undefined)

const compactCodes: ReplyCodes<CompactResult, ReadonlyArray<string>> = {
  COMPACTED: (r, objectKeys) => {
    if (r.length !== 1 + objectKeys.length) return undefined
    const compacted: Array<string> = []
    const skipped: Array<string> = []
    objectKeys.forEach((key, i) => {
      const why = r[1 + i] ?? ""
      if (why === "") compacted.push(key)
      else skipped.push(`${key} ${why}`)
    })
    return { compacted, skipped }
  }
}

/** compact.lua's reply to a call for `objectKeys` (one outcome each, in order). */
export const compactResult = (objectKeys: ReadonlyArray<string>, reply: unknown): CompactResult =>
  coded("compact.lua", compactCodes, reply, objectKeys)

const retireCodes: ReplyCodes<RetireResult, ReadonlyArray<string>> = {
  RETIRED: (r, objectKeys) => {
    if (r.length !== 1 + objectKeys.length) return undefined
    const retired: Array<string> = []
    const absent: Array<string> = []
    const skipped: Array<string> = []
    objectKeys.forEach((key, i) => {
      const why = r[1 + i] ?? ""
      if (why === "") retired.push(key)
      else if (why === "absent") absent.push(key)
      else skipped.push(`${key} ${why}`)
    })
    return { _tag: "Retired", retired, absent, skipped }
  },
  NOT_LEASED: (r) => ({ _tag: "NotLeased", current: r[1] ?? "" })
}

/** retire.lua's reply to a call for `objectKeys` (one outcome each, in order). */
export const retireResult = (objectKeys: ReadonlyArray<string>, reply: unknown): RetireResult =>
  coded("retire.lua", retireCodes, reply, objectKeys)

/** load.lua: `{found, fingerprint, response, v1, d1, ...}` for `objectKeys` in order. */
export const loadResult = (objectKeys: ReadonlyArray<string>, raw: unknown): Snapshot => {
  const reply = strings("load.lua", raw)
  return {
    objects: versionedPairs(objectKeys, reply, 3),
    idempotency: reply[0] === "1"
      ? { fingerprint: hexFingerprint(reply[1] ?? ""), response: decodeStoredResponse(reply[2] ?? "") }
      : null
  }
}

/** ledger.lua: `{trimmedThrough, entry JSON...}`. */
export const ledgerPageResult = (raw: unknown): { readonly entries: ReadonlyArray<LedgerEntry>; readonly trimmedThrough: number } => {
  const reply = strings("ledger.lua", raw)
  return { entries: reply.slice(1).map((s) => JSON.parse(s ?? "null") as LedgerEntry), trimmedThrough: Number(reply[0]) }
}

/** events.lua: `{trimCursor, id, entries JSON, transfers JSON, ...}`, events in the page's order. */
export const eventsPageResult = (raw: unknown): { readonly events: ReadonlyArray<StoreEvent>; readonly trimCursor: string } => {
  const reply = strings("events.lua", raw)
  if (reply.length === 0 || (reply.length - 1) % 3 !== 0) throw new UnexpectedScriptReply("events.lua", raw)
  const events: Array<StoreEvent> = []
  for (let i = 1; i < reply.length; i += 3) {
    events.push({
      id: reply[i]!,
      entries: JSON.parse(reply[i + 1]!) as Array<LedgerEntry>,
      transfers: JSON.parse(reply[i + 2]!) as Array<Transfer>
    })
  }
  return { events, trimCursor: reply[0] ?? "0" }
}

/** events.lua with detail "outline": entries are references `[account, seq]` (or, in events of earlier versions, entries). */
export const eventOutlinesResult = (raw: unknown): ReadonlyArray<EventOutline> => {
  const reply = strings("events.lua", raw)
  if (reply.length === 0 || (reply.length - 1) % 3 !== 0) throw new UnexpectedScriptReply("events.lua", raw)
  const outlines: Array<EventOutline> = []
  for (let i = 1; i < reply.length; i += 3) {
    const entries = (JSON.parse(reply[i + 1]!) as Array<[AccountRef, number] | LedgerEntry>).map((e) =>
      Array.isArray(e) ? { accountId: e[0], seq: e[1] } : { accountId: e.accountId, seq: e.seq }
    )
    outlines.push({ id: reply[i]!, entries, transfers: JSON.parse(reply[i + 2]!) as Array<Transfer> })
  }
  return outlines
}

/** transfers.lua: `{start, base, item...}` oldest first; the page is newest first. */
export const transferPageResult = (raw: unknown): TransferPage => {
  const reply = strings("transfers.lua", raw)
  const start = Number(reply[0])
  const items = reply.slice(2).map((s) => JSON.parse(s ?? "null") as Transfer).reverse()
  return { items, nextCursor: start > 0 ? String(start) : null, floor: Number(reply[1]) }
}

/** The codes each script's replies are read by (scripts answering without codes: none). */
export const replyCodes: Readonly<Record<string, ReadonlyArray<string>>> = {
  "apply.lua": Object.keys(applyCodes),
  "load.lua": [],
  "ledger.lua": [],
  "transfers.lua": [],
  "lease.lua": [...Object.keys(leaseAcquireCodes), ...Object.keys(leaseReleaseCodes)],
  "trim.lua": Object.keys(trimCodes),
  "compact.lua": Object.keys(compactCodes),
  "retire.lua": Object.keys(retireCodes)
}

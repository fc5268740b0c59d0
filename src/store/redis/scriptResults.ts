import { ABSENT, type StoredObject, type SystemAccount, type Versioned } from "../../domain/accounts.ts"
import type { ApplyResult } from "../Store.ts"

/**
 * The one place that reads apply.lua's return codes (documented in its
 * header). A reply that matches none of them means script and code disagree:
 * a bug, thrown, never mistaken for an outcome.
 */

export class UnexpectedScriptReply extends Error {
  constructor(script: string, reply: unknown) {
    super(`${script} returned an unexpected reply: ${JSON.stringify(reply)?.slice(0, 300)}`)
    this.name = "UnexpectedScriptReply"
  }
}

const isStringArray = (reply: unknown): reply is ReadonlyArray<string | null> =>
  Array.isArray(reply) && reply.every((x) => x === null || typeof x === "string")

/** A stored object from its hash fields `v` and `d` (version "0" or missing: absent). */
export const versionedFrom = (version: string | null | undefined, data: string | null | undefined): Versioned => {
  const v = Number(version ?? "0")
  if (!Number.isSafeInteger(v) || v < 0) throw new UnexpectedScriptReply("object version", version)
  if (v === 0 || !data) return ABSENT
  return { version: v, value: JSON.parse(data) as StoredObject }
}

/** Pairs `v1, d1, v2, d2, ...` (as CONFLICT and load.lua return them) keyed by the object keys in order. */
export const versionedPairs = (
  keys: ReadonlyArray<string>,
  flat: ReadonlyArray<string | null>,
  offset: number
): Map<string, Versioned> => {
  if (flat.length !== offset + 2 * keys.length) throw new UnexpectedScriptReply("versioned pairs", flat)
  return new Map(keys.map((key, i) => [key, versionedFrom(flat[offset + 2 * i], flat[offset + 2 * i + 1])]))
}

const isSystemAccount = (s: unknown): s is SystemAccount => s === "mint" || s === "burn" || s === "rake"

/** apply.lua's answers: the port's outcomes, plus LATE (its deadline passed, nothing written), which the store retries. */
export type ScriptOutcome = ApplyResult | { readonly _tag: "Late" }

export const applyResult = (expectedKeys: ReadonlyArray<string>, reply: unknown): ScriptOutcome => {
  if (!isStringArray(reply) || reply.length === 0) throw new UnexpectedScriptReply("apply.lua", reply)
  switch (reply[0]) {
    case "APPLIED":
      return { _tag: "Applied" }
    case "REPLAYED":
      return { _tag: "Replayed", response: reply[1] ?? "" }
    case "KEY_REUSED":
      return { _tag: "KeyReused" }
    case "CONFLICT":
      return { _tag: "Conflict", current: versionedPairs(expectedKeys, reply, 1) }
    case "OVERFLOW":
      if (!isSystemAccount(reply[1])) break
      return { _tag: "Overflow", account: reply[1] }
    case "LATE":
      return { _tag: "Late" }
  }
  throw new UnexpectedScriptReply("apply.lua", reply)
}

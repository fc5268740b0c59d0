import type { ApplyRequest } from "../Store.ts"
import type { RedisKeys } from "./redisKeys.ts"

/** KEYS and ARGV of one apply.lua call, in the layout its header documents. */
export interface ApplyArgs {
  readonly keys: ReadonlyArray<string>
  readonly args: ReadonlyArray<string>
}

/**
 * Every number goes as a decimal string and every object as finished JSON:
 * the script stores them verbatim, so no value passes through Lua's number
 * formatting (14 significant digits).
 */
const decimal = (n: number): string => {
  if (!Number.isSafeInteger(n)) throw new RangeError(`apply.lua takes safe integers only, got ${n}`)
  return String(n)
}

/** `deadlineMs`: Unix ms after which the script must not write (0: no deadline). */
export const applyArgs = (
  request: ApplyRequest,
  keys: RedisKeys,
  eventsMaxLen: number,
  deadlineMs = 0,
  compactIdempotency = false
): ApplyArgs => {
  const { plan, idempotency } = request
  // A compact record is "<fingerprint>|<response>", split at the first "|".
  if (idempotency?.fingerprint.includes("|")) throw new RangeError("an idempotency fingerprint may not contain '|'")
  const entryJson = plan.entries.map((e) => JSON.stringify(e))
  const transferJson = plan.transfers.map((t) => JSON.stringify(t))
  const k: Array<string> = [keys.system, keys.stats, keys.expiry, keys.accounts, keys.events, keys.closed]
  if (idempotency) k.push(keys.idempotency(idempotency.key))
  for (const e of plan.expected) k.push(keys.object(e.key))
  for (const w of plan.writes) k.push(keys.object(w.key))
  for (const e of plan.entries) k.push(keys.ledger(e.accountId))
  for (const t of plan.transfers) k.push(keys.transfers(t.from), keys.transfers(t.to))

  const a: Array<string> = [
    idempotency ? (compactIdempotency ? "2" : "1") : "0",
    idempotency?.fingerprint ?? "",
    request.responseJson,
    decimal(Math.max(1, idempotency?.ttlMs ?? 1)),
    decimal(eventsMaxLen),
    decimal(plan.expected.length),
    decimal(plan.writes.length),
    decimal(plan.entries.length),
    decimal(plan.transfers.length),
    decimal(plan.system.length),
    decimal(plan.stats.length),
    decimal(plan.expiryRemove.length),
    decimal(plan.expiryAdd.length),
    decimal(plan.newAccounts.length),
    decimal(deadlineMs),
    decimal(plan.closedAccounts.length)
  ]
  for (const e of plan.expected) a.push(decimal(e.version))
  for (const w of plan.writes) a.push(decimal(w.version), JSON.stringify(w.value))
  a.push(...entryJson, ...transferJson)
  for (const s of plan.system) a.push(s.account, decimal(s.delta))
  for (const s of plan.stats) a.push(s.name, decimal(s.delta))
  a.push(...plan.expiryRemove)
  for (const x of plan.expiryAdd) a.push(x.reservationId, decimal(x.expiresAt))
  a.push(...plan.newAccounts)
  for (const c of plan.closedAccounts) a.push(c.account, decimal(c.closedAt))
  return { keys: k, args: a }
}

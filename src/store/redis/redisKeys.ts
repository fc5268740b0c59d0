import type { AccountRef } from "../../domain/accounts.ts"

/**
 * The Redis key layout of the store, in one place. `P` is REDIS_KEY_PREFIX
 * (default `balance:`). Object keys and account refs come from
 * src/domain/accounts.ts (`w:alice`, `s:t1:alice`, `p:t1:h9`, `r:<id>`,
 * `x:mint`), built only from validated ids, so no client text reaches a key
 * except idempotency keys, which live in their own namespace.
 *
 *   P obj:<objectKey>        hash    v = version (decimal), d = object JSON (stored verbatim);
 *                                    a settled pot PostgreSQL holds whole (closed_objects) is
 *                                    its marker: d = the pot with contributions [] and
 *                                    archived: true, v unchanged (compact.lua); cancelled pots
 *                                    and closed reservations stay whole. Every closed object
 *                                    (pot or reservation) PostgreSQL holds whole, with its chain
 *                                    and transfers trimmed, is deleted CLOSED_RETENTION_MS after
 *                                    it closed (retire.lua), with its P trimmed e:/t: fields and
 *                                    its P closed member; reads then come from closed_objects
 *   P ledger:<accountRef>    list    ledger entry JSON not yet trimmed; entry seq = list index + 1
 *                                    + P trimmed e:<accountRef>
 *   P transfers:<accountRef> list    the transfers touching the account, oldest first (system
 *                                    accounts too: P transfers:x:mint), each either its JSON
 *                                    (starts with "{": stream capped, HISTORY_ARCHIVE=off, or
 *                                    TRANSFER_LISTS=full, or written by earlier versions) or a
 *                                    reference "<event id>#<position in its transfers>" into P
 *                                    events (uncapped; transfers.lua resolves it); absolute
 *                                    index = list index + P trimmed t:<accountRef>
 *   P trimmed                hash    what the archiver removed after PostgreSQL committed it
 *                                    (trim.lua): cursor = last trimmed stream id,
 *                                    e:<accountRef> = entries trimmed through (seq),
 *                                    t:<accountRef> = transfers trimmed (count), m:<accountRef> =
 *                                    absolute index before which its transfer list holds no
 *                                    reference (trim.lua writes references out in full there);
 *                                    a retired pot's e:/t:/m: fields go with it (retire.lua)
 *   P idem:<idempotencyKey>  string  "<fingerprint: first 128 bits, 22 base64url chars><response, compact form "~...">"
 *                                    (IDEMPOTENCY_RECORDS=compact, the default; storedResponse.ts); PX = the key's TTL
 *                            or hash f = request fingerprint, r = response JSON (IDEMPOTENCY_RECORDS=hash)
 *                            or string "<fingerprint, 32 hex digits>|<response JSON>" (earlier versions' compact)
 *   P system                 hash    mint / burn / rake: signed balances (HINCRBY)
 *   P stats                  hash    StatName -> counter (HINCRBY)
 *   P expiry                 zset    reservationId scored by expiresAt (ms)
 *   P accounts               zset    live chained account refs, score 0 (lexical order)
 *   P closed                 zset    closed accounts (settled/cancelled pots, which left
 *                                    P accounts), scored by closedAt (ms), until retired
 *                                    (retire.lua; closed reservations have no index here: the
 *                                    archiver finds what to retire in closed_objects by closed_at)
 *   P events                 stream  one entry per apply that moved something: `entryRefs`, JSON
 *                                    [[accountRef, seq], ...] of its entries (stored once, in the
 *                                    ledger lists; events.lua reads them back), and `transfers`, a
 *                                    JSON array (events of earlier versions: `entries`, a JSON array); uncapped
 *                                    with the archive on (the transfer lists reference it: trim.lua
 *                                    removes an event only with, or after materialising, those)
 *   P archiver:lease         string  "<owner> <fencing token>", PX = ARCHIVE_LEASE_MS (lease.lua)
 *   P archiver:token         string  counter of fencing tokens handed out
 *   P archive:id             string  id of the history store (archive_state.archive_id) that
 *                                    this Redis' history is archived in; SET NX by the first
 *                                    instance with the archive on (redisArchiveIdentity.ts)
 *
 * Tests use this module to tamper with Redis directly, so it is the contract
 * between the scripts, the store and anyone reading Redis by hand.
 */
export interface RedisKeys {
  /** P itself: events.lua builds ledger keys from the accounts an event references. */
  readonly prefix: string
  readonly object: (key: string) => string
  readonly ledger: (account: AccountRef) => string
  readonly transfers: (account: AccountRef) => string
  readonly idempotency: (key: string) => string
  readonly system: string
  readonly stats: string
  readonly expiry: string
  readonly accounts: string
  readonly closed: string
  readonly events: string
  readonly trimmed: string
  readonly archiverLease: string
  readonly archiverToken: string
  readonly archiveId: string
}

export const redisKeys = (prefix: string): RedisKeys => ({
  prefix,
  object: (key) => `${prefix}obj:${key}`,
  ledger: (account) => `${prefix}ledger:${account}`,
  transfers: (account) => `${prefix}transfers:${account}`,
  idempotency: (key) => `${prefix}idem:${key}`,
  system: `${prefix}system`,
  stats: `${prefix}stats`,
  expiry: `${prefix}expiry`,
  accounts: `${prefix}accounts`,
  closed: `${prefix}closed`,
  events: `${prefix}events`,
  trimmed: `${prefix}trimmed`,
  archiverLease: `${prefix}archiver:lease`,
  archiverToken: `${prefix}archiver:token`,
  archiveId: `${prefix}archive:id`
})

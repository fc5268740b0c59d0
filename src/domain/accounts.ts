/**
 * The objects the ledger keeps, and the keys that name them. A key is also the
 * account reference that ledger entries and transfers use.
 *
 *   w:<accountId>             wallet   (may not go negative; has `held`)
 *   s:<tableId>:<accountId>   stack    (a player's chips at one table)
 *   p:<tableId>:<handId>      pot      (chips bet in one hand)
 *   r:<reservationId>         reservation (a pending wallet -> stack transfer)
 *   x:mint | x:burn | x:rake  system accounts (no version, no chain)
 *
 * Ids never contain ':' (see ids.ts), so keys are unambiguous.
 */

export const SYSTEM_ACCOUNTS = ["mint", "burn", "rake"] as const
export type SystemAccount = (typeof SYSTEM_ACCOUNTS)[number]

export const isSystemAccount = (s: unknown): s is SystemAccount => (SYSTEM_ACCOUNTS as ReadonlyArray<unknown>).includes(s)

/** Every system account at 0: what the books hold before anything moved. */
export const noSystemBalances = (): Record<SystemAccount, number> => ({ mint: 0, burn: 0, rake: 0 })

/** The one-letter prefix of each kind of key; the only place keys are spelled. */
const KEY_PREFIX = { wallet: "w:", stack: "s:", pot: "p:", reservation: "r:", system: "x:" } as const
export type KeyKind = keyof typeof KEY_PREFIX

export const walletKey = (accountId: string) => `${KEY_PREFIX.wallet}${accountId}`
export const stackKey = (tableId: string, accountId: string) => `${stackKeyPrefix(tableId)}${accountId}`
/** What every stack key at one table starts with (listing a table's stacks). */
export const stackKeyPrefix = (tableId: string) => `${KEY_PREFIX.stack}${tableId}:`
export const potKey = (tableId: string, handId: string) => `${KEY_PREFIX.pot}${tableId}:${handId}`
export const reservationKey = (reservationId: string) => `${KEY_PREFIX.reservation}${reservationId}`
export const systemKey = (account: SystemAccount) => `${KEY_PREFIX.system}${account}`

/** What a key names, by its prefix. */
export const keyKind = (key: string): KeyKind | undefined =>
  (Object.keys(KEY_PREFIX) as Array<KeyKind>).find((kind) => key.startsWith(KEY_PREFIX[kind]))

export type AccountRef = string

export interface Chain {
  /** Number of entries in this account's ledger; the next entry gets seq + 1. */
  readonly seq: number
  /** Checksum of the last entry, "GENESIS" before the first. */
  readonly checksum: string
}

export interface WalletState extends Chain {
  readonly kind: "wallet"
  readonly accountId: string
  readonly balance: number
  readonly held: number
  readonly createdAt: number
}

export interface StackState extends Chain {
  readonly kind: "stack"
  readonly tableId: string
  readonly accountId: string
  readonly balance: number
}

export const POT_STATUSES = ["ACTIVE", "SETTLED", "CANCELLED"] as const
export type PotStatus = (typeof POT_STATUSES)[number]

export interface SeatContribution {
  readonly seatId: number
  readonly accountId: string
  readonly amount: number
}

export interface PotState extends Chain {
  readonly kind: "pot"
  readonly tableId: string
  readonly handId: string
  readonly balance: number
  readonly status: PotStatus
  /** One row per (seat, account), in first-contribution order. */
  readonly contributions: ReadonlyArray<SeatContribution>
  readonly createdAt: number
  readonly closedAt?: number
  /**
   * Set on a SETTLED pot whose contributions moved to the history store (issue 14): once the
   * archiver has committed the pot to PostgreSQL (closed_objects), Redis keeps this marker instead
   * of the full object: the pot with `contributions: []` and this flag, at the same version, with
   * the same chain head (seq, checksum, balance, status, createdAt, closedAt). It keeps refusing
   * what a settled pot refuses (a late Contribute, a second Settle or a Cancel: POT_NOT_ACTIVE,
   * decided before the contributions are read) and keeps the hand id taken; reads that show the
   * contributions take the full state from the history store (archivedPotState). Only SETTLED pots:
   * a CANCELLED pot answers a repeated Cancel with refunds computed from its contributions.
   */
  readonly archived?: true
}

export const RESERVATION_STATUSES = ["HELD", "COMMITTED", "RELEASED", "EXPIRED"] as const
export type ReservationStatus = (typeof RESERVATION_STATUSES)[number]

export interface ReservationState {
  readonly kind: "reservation"
  readonly reservationId: string
  readonly accountId: string
  readonly tableId: string
  readonly amount: number
  readonly status: ReservationStatus
  readonly createdAt: number
  readonly expiresAt: number
  readonly idempotencyKey?: string
  readonly closedAt?: number
  readonly closeReason?: string
  /** Set on commit so that a repeated commit answers exactly as the first one did. */
  readonly commit?: { readonly transactionId: string; readonly newBalance: number }
}

export type ChainedAccount = WalletState | StackState | PotState
export type StoredObject = ChainedAccount | ReservationState

/** A Record over the union: a kind of object added without an entry here does not compile. */
const objectKinds: Readonly<Record<StoredObject["kind"], true>> = { wallet: true, stack: true, pot: true, reservation: true }
/** Every kind of stored object, at runtime (metric labels). */
export const OBJECT_KINDS = Object.keys(objectKinds) as ReadonlyArray<StoredObject["kind"]>

/** An object as the store holds it: version 0 means "does not exist". */
export interface Versioned<T extends StoredObject = StoredObject> {
  readonly version: number
  readonly value: T | null
}

export const ABSENT: Versioned = { version: 0, value: null }

export const isChained = (o: StoredObject): o is ChainedAccount => o.kind !== "reservation"

/**
 * An object no command changes again: a settled or cancelled pot (its chain never grows), a
 * committed, released or expired reservation.
 */
export const isClosed = (o: StoredObject): boolean =>
  (o.kind === "pot" && o.status !== "ACTIVE") || (o.kind === "reservation" && o.status !== "HELD")

/** A settled or cancelled pot. */
export const isClosedPot = (o: StoredObject | null | undefined): o is PotState => o?.kind === "pot" && isClosed(o)

/** A pot whose contributions are in the history store only (PotState.archived). */
export const isArchivedPot = (o: StoredObject | null | undefined): o is PotState => o?.kind === "pot" && o.archived === true

/** What Redis keeps of a settled pot once the history store holds it whole; null for any other object. */
export const archivedPotMarker = (o: StoredObject): PotState | null =>
  o.kind === "pot" && o.status === "SETTLED" && o.archived !== true ? { ...o, contributions: [], archived: true } : null

export const emptyWallet = (accountId: string, now: number): WalletState => ({
  kind: "wallet", accountId, balance: 0, held: 0, createdAt: now, seq: 0, checksum: "GENESIS"
})

export const emptyStack = (tableId: string, accountId: string): StackState => ({
  kind: "stack", tableId, accountId, balance: 0, seq: 0, checksum: "GENESIS"
})

export const emptyPot = (tableId: string, handId: string, now: number): PotState => ({
  kind: "pot", tableId, handId, balance: 0, status: "ACTIVE", contributions: [], createdAt: now, seq: 0,
  checksum: "GENESIS"
})

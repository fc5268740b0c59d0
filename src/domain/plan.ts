import type { AccountRef, ChainedAccount, StoredObject, SystemAccount, Versioned } from "./accounts.ts"
import { isChained, isClosedPot, isSystemAccount, SYSTEM_ACCOUNTS, systemKey } from "./accounts.ts"
import { refuse, type Refusal } from "./errors.ts"
import { type EntryType, signEntry, type LedgerEntry } from "./ledgerEntry.ts"
import type { Transfer, TransferType } from "./transfer.ts"

/** Business counters kept next to the data and changed in the same atomic apply. */
export type StatName =
  | "minted"
  | "burned"
  | "raked"
  | "moved"
  | "transfers"
  | "held"
  | "reservations_active"
  | "reservations_created"
  | "reservations_committed"
  | "reservations_released"
  | "reservations_expired"
  | "pots_open"
  | "pots_settled"
  | "pots_cancelled"
  | "settlements_normalised"
  | `by_type:${TransferType}`

export interface ObjectWrite {
  readonly key: string
  /** The version the object will have: expected version + 1. */
  readonly version: number
  readonly value: StoredObject
}

/**
 * Everything one command does, computed up front. The store applies it
 * atomically if every expected version still matches, else writes nothing.
 */
export interface Plan<R = unknown> {
  readonly expected: ReadonlyArray<{ readonly key: string; readonly version: number }>
  readonly writes: ReadonlyArray<ObjectWrite>
  readonly entries: ReadonlyArray<LedgerEntry>
  readonly transfers: ReadonlyArray<Transfer>
  readonly system: ReadonlyArray<{ readonly account: SystemAccount; readonly delta: number }>
  readonly stats: ReadonlyArray<{ readonly name: StatName; readonly delta: number }>
  readonly expiryAdd: ReadonlyArray<{ readonly reservationId: string; readonly expiresAt: number }>
  readonly expiryRemove: ReadonlyArray<string>
  readonly newAccounts: ReadonlyArray<AccountRef>
  /**
   * Accounts whose chain this plan ends for good (a pot settled or cancelled): they leave the index
   * of live accounts for the index of closed ones, ordered by when they closed, so that background
   * passes over live accounts do not grow with every hand ever played.
   */
  readonly closedAccounts: ReadonlyArray<{ readonly account: AccountRef; readonly closedAt: number }>
  readonly response: R
}

/** A plan, or an answer that needs no write (a repeated commit, releasing a released hold). */
export type Outcome<R = unknown> =
  | { readonly _tag: "Plan"; readonly plan: Plan<R> }
  | { readonly _tag: "NoChange"; readonly response: R }

/**
 * The state a plan was asked to start from contradicts itself (a reservation whose wallet is
 * missing or does not hold it, a pot whose contributions do not add up to its balance). Read
 * from one snapshot, the store holds a corrupt state; mixed from a cache and reads made at
 * different times, the state is only stale and reading it again settles it. Not a planner bug:
 * those stay thrown errors (defects).
 */
export interface Inconsistent {
  readonly _tag: "Inconsistent"
  readonly reason: string
}

/** Thrown inside the builder, caught by `plan()`, which returns it as an `Inconsistent` outcome. */
export class InconsistentState extends Error {
  override readonly name = "InconsistentState"
}

export interface PlanContext {
  readonly now: number
  readonly newId: () => string
  readonly hmacKey: string | undefined
}

export type State = ReadonlyMap<string, Versioned>

export interface Movement {
  readonly transferId: string
  readonly parent: string
  readonly metadata: Readonly<Record<string, string>>
}

/**
 * Accumulates one plan. Local mutation inside a pure function: the builder
 * never escapes the planner, and it is the only place that turns balance
 * changes into chained ledger entries, so no operation can forget an entry.
 */
export class PlanBuilder {
  private readonly current = new Map<string, StoredObject | null>()
  private readonly touched = new Set<string>()
  private readonly entries: Array<LedgerEntry> = []
  private readonly transfers: Array<Transfer> = []
  private readonly system = new Map<SystemAccount, number>()
  private readonly stats = new Map<StatName, number>()
  private readonly expiryAdd: Array<{ reservationId: string; expiresAt: number }> = []
  private readonly expiryRemove: Array<string> = []
  private readonly newAccounts: Array<AccountRef> = []
  private readonly closedAccounts: Array<{ account: AccountRef; closedAt: number }> = []
  private failure: Refusal | undefined

  readonly state: State
  readonly ctx: PlanContext

  constructor(state: State, ctx: PlanContext) {
    this.state = state
    this.ctx = ctx
  }

  get<T extends StoredObject>(key: string): T | null {
    if (this.current.has(key)) return this.current.get(key) as T | null
    return (this.state.get(key)?.value ?? null) as T | null
  }

  put(key: string, value: StoredObject): void {
    const before = this.get(key)
    if (before === null && isChained(value)) this.newAccounts.push(key)
    if (isClosedPot(value) && !isClosedPot(before)) {
      this.closedAccounts.push({ account: key, closedAt: value.closedAt ?? this.ctx.now })
    }
    this.current.set(key, value)
    this.touched.add(key)
  }

  /** Stops planning: the state contradicts itself (see Inconsistent). */
  inconsistent(reason: string): never {
    throw new InconsistentState(reason)
  }

  stat(name: StatName, delta: number): void {
    if (delta !== 0) this.stats.set(name, (this.stats.get(name) ?? 0) + delta)
  }

  scheduleExpiry(reservationId: string, expiresAt: number): void {
    this.expiryAdd.push({ reservationId, expiresAt })
  }

  unscheduleExpiry(reservationId: string): void {
    this.expiryRemove.push(reservationId)
  }

  /** Changes a chained account's balance and/or held and appends the entry that records it. */
  entry(
    key: AccountRef,
    type: EntryType,
    amount: number,
    heldDelta: number,
    movement: Movement,
    update: (account: ChainedAccount, balance: number, held: number) => ChainedAccount
  ): ChainedAccount {
    const account = this.get<ChainedAccount>(key)
    if (account === null) return this.inconsistent(`no account ${key}`)
    const heldBefore = account.kind === "wallet" ? account.held : 0
    const balanceAfter = account.balance + amount
    const heldAfter = heldBefore + heldDelta
    if (!Number.isSafeInteger(balanceAfter) || !Number.isSafeInteger(heldAfter)) {
      this.failure ??= refuse("AMOUNT_OVERFLOW", `balance of ${key} would leave the safe integer range`)
    }
    // Operations check what they debit first, so only a state that contradicts itself gets here.
    if (balanceAfter < 0 || heldAfter < 0 || heldAfter > balanceAfter) {
      return this.inconsistent(`${key} would end with balance ${balanceAfter}, held ${heldAfter}`)
    }
    const seq = account.seq + 1
    const signed = signEntry({
      entryId: `${key}#${seq}`,
      accountId: key,
      seq,
      transferId: movement.transferId,
      type,
      amount,
      balanceBefore: account.balance,
      balanceAfter,
      heldDelta,
      heldAfter,
      parent: movement.parent,
      metadata: movement.metadata,
      timestamp: this.ctx.now,
      previousChecksum: account.checksum
    }, this.ctx.hmacKey)
    this.entries.push(signed)
    const updated = { ...update(account, balanceAfter, heldAfter), seq, checksum: signed.checksum }
    this.put(key, updated)
    return updated
  }

  /** Moves chips between two accounts (either may be a system account) as one transfer. */
  transfer(
    type: TransferType,
    from: AccountRef | SystemAccount,
    to: AccountRef | SystemAccount,
    amount: number,
    movement: Omit<Movement, "transferId"> & { readonly transferId?: string },
    entryTypes: { readonly from: EntryType; readonly to: EntryType } = { from: type, to: type }
  ): Transfer {
    const m: Movement = { ...movement, transferId: movement.transferId ?? this.ctx.newId() }
    const side = (ref: AccountRef | SystemAccount, delta: number, entryType: EntryType) => {
      if (isSystemAccount(ref)) {
        this.system.set(ref, (this.system.get(ref) ?? 0) + delta)
      } else {
        this.entry(ref, entryType, delta, 0, m, (a, balance) => ({ ...a, balance }))
      }
    }
    side(from, -amount, entryTypes.from)
    side(to, amount, entryTypes.to)
    return this.recordTransfer(type, from, to, amount, m)
  }

  /** Records a transfer whose entries the caller wrote itself (a buy-in also drops the hold). */
  recordTransfer(
    type: TransferType,
    from: AccountRef | SystemAccount,
    to: AccountRef | SystemAccount,
    amount: number,
    m: Movement
  ): Transfer {
    const t: Transfer = {
      transferId: m.transferId,
      type,
      from: isSystemAccount(from) ? systemKey(from) : from,
      to: isSystemAccount(to) ? systemKey(to) : to,
      amount,
      parent: m.parent,
      metadata: m.metadata,
      timestamp: this.ctx.now
    }
    this.transfers.push(t)
    this.stat("moved", amount)
    this.stat("transfers", 1)
    this.stat(`by_type:${type}`, amount)
    if (from === "mint") this.stat("minted", amount)
    if (to === "burn") this.stat("burned", amount)
    if (to === "rake") this.stat("raked", amount)
    return t
  }

  build<R>(response: R): Outcome<R> | Refusal {
    if (this.failure) return this.failure
    const keys = [...this.touched]
    const expected = keys.map((key) => ({ key, version: this.state.get(key)?.version ?? 0 }))
    const writes = keys.map((key) => ({
      key,
      version: (this.state.get(key)?.version ?? 0) + 1,
      value: this.current.get(key)!
    }))
    return {
      _tag: "Plan",
      plan: {
        expected,
        writes,
        entries: this.entries,
        transfers: this.transfers,
        system: SYSTEM_ACCOUNTS.flatMap((account) => {
          const delta = this.system.get(account) ?? 0
          return delta === 0 ? [] : [{ account, delta }]
        }),
        stats: [...this.stats].map(([name, delta]) => ({ name, delta })),
        expiryAdd: this.expiryAdd,
        expiryRemove: this.expiryRemove,
        newAccounts: this.newAccounts,
        closedAccounts: this.closedAccounts,
        response
      }
    }
  }
}

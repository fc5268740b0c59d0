import { randomUUID } from "node:crypto"
import { join } from "node:path"
import { BalanceClient, type BalanceClientOptions } from "../BalanceClient.ts"
import { BalanceRefusal, BalanceUnavailable } from "../errors.ts"
import { type ClientLogger, guardedLogger, stderrLogger } from "../telemetry.ts"
import { adviceFor } from "./advice.ts"
import { applyMovement, type Movement, movementProblem, type MovementResult } from "./movements.ts"
import { type JournalCause, type JournalEntry, ReconciliationJournal } from "./ReconciliationJournal.ts"
import { type Divergence, type DivergenceKind, type LegacyView, ShadowMirror, type ShadowSettings } from "./ShadowMirror.ts"

/**
 * The migration modes of the plan, switchable at run time (`setMode`):
 * - off: no calls; the game's legacy chip logic decides (phase 1).
 * - shadow: the legacy logic decides; every movement is mirrored to the service
 *   in the background and divergences are counted (phase 2, dual write).
 * - enforce: the service decides; a refusal blocks the action; when the service
 *   cannot be reached the permissive fallback journals the movement (phase 3/4).
 */
export type MigrationMode = "off" | "shadow" | "enforce"
export const MIGRATION_MODES: ReadonlyArray<MigrationMode> = ["off", "shadow", "enforce"]

/** What the game should do with a movement. Every decision but `refused` lets the action go on. */
export type Decision =
  /** enforce: the service applied it. */
  | { readonly decision: "applied"; readonly key: string; readonly result: MovementResult }
  /** enforce: the service refused it; nothing moved; the action must not happen. */
  | { readonly decision: "refused"; readonly key: string; readonly code: string; readonly message: string }
  /** enforce, service unreachable: journaled (fsync'ed), replayed with `key` when it is back. */
  | { readonly decision: "permitted-offline"; readonly key: string; readonly entryId: string; readonly cause: JournalCause }
  /** off / shadow: the game's own logic decides. */
  | { readonly decision: "legacy"; readonly key: string }

export const isAllowed = (d: Decision): boolean => d.decision !== "refused"

/** A buy-in hold between reserve and commit (two-phase buy-in). */
export type BuyInHold = {
  readonly key: string
  readonly tableId: string
  readonly accountId: string
  readonly amount: number
} & (
  | { readonly state: "legacy" }
  /** Held on the service. */
  | { readonly state: "held"; readonly reservationId: string }
  /** The service could not be asked: nothing is held, nothing journaled yet (nothing moved); decided at commit. */
  | { readonly state: "offline" }
  /** The service refused the hold: the player cannot sit with this amount. */
  | { readonly state: "refused"; readonly code: string; readonly message: string }
)

export interface ReplayPass {
  readonly applied: number
  readonly refused: number
  readonly remaining: number
  /** Why the pass stopped before the end (the service is still unreachable). */
  readonly stoppedBy?: string
}

export interface GameBalanceOptions {
  /** A client to share, or the options to create one (closed with the GameBalance then). */
  readonly client: BalanceClient | BalanceClientOptions
  readonly mode: MigrationMode
  /** Directory of the reconciliation journal (one game process per directory). */
  readonly journalDir: string
  /** How often pending journal entries are replayed (and journal gauges reported). */
  readonly replayIntervalMs?: number
  readonly shadow?: Partial<ShadowSettings>
  readonly logger?: ClientLogger
  /**
   * The service's IDEMPOTENCY_TTL_MS (default 24 h). A movement whose call may
   * have reached the service (cause `unavailable`) is only replayed blindly
   * while the service still remembers its key; older, it is handed to the
   * operator instead (OUTCOME_UNKNOWN_PAST_KEY_TTL), since a replay could apply it twice.
   */
  readonly idempotencyTtlMs?: number
}

/** A settled journal (nothing pending) larger than this is archived and a new one started. */
const JOURNAL_ROTATE_BYTES = 1 << 20

/** The client's own refusal code for a journaled movement too old to replay safely. */
export const OUTCOME_UNKNOWN_PAST_KEY_TTL = "OUTCOME_UNKNOWN_PAST_KEY_TTL"

type BuyInRequest = { readonly tableId: string; readonly accountId: string; readonly amount: number; readonly key?: string }
type ContributionRequest = {
  readonly tableId: string
  readonly handId: string
  readonly seatId: number
  readonly accountId: string
  readonly amount: number
  /** BLIND, ANTE, BET, CALL, RAISE or ALL_IN. */
  readonly type: string
  readonly key?: string
}
type SettleRequest = {
  readonly tableId: string
  readonly handId: string
  readonly winners: ReadonlyArray<{ readonly seatId: number; readonly accountId: string; readonly amount: number }>
  readonly key?: string
}
type CancelRequest = { readonly tableId: string; readonly handId: string; readonly reason: string; readonly key?: string }
type CashOutRequest = {
  readonly tableId: string
  readonly accountId: string
  readonly seatId: number
  readonly amount: number
  readonly handId?: string
  readonly key?: string
}

/**
 * What a poker game server embeds: every chip movement of a table goes
 * through here, and the mode decides who decides. See the package README for
 * the permissive rules (what "permitted offline" means for a two-phase buy-in,
 * and for movements on stacks that exist only in the journal).
 */
export class GameBalance {
  readonly client: BalanceClient
  readonly journal: ReconciliationJournal
  readonly shadow: ShadowMirror
  private currentMode: MigrationMode
  private readonly ownsClient: boolean
  private readonly log: ClientLogger
  private readonly timer: NodeJS.Timeout
  private replaying: Promise<ReplayPass> | undefined
  private readonly idempotencyTtlMs: number
  readonly counts = { applied: 0, refused: 0, permittedOffline: 0, legacy: 0, replayed: 0, replayRefused: 0 }

  constructor(options: GameBalanceOptions) {
    this.ownsClient = !(options.client instanceof BalanceClient)
    this.client = options.client instanceof BalanceClient ? options.client : new BalanceClient(options.client)
    this.currentMode = options.mode
    this.idempotencyTtlMs = options.idempotencyTtlMs ?? 86_400_000
    this.log = guardedLogger(options.logger ?? stderrLogger())
    this.journal = ReconciliationJournal.open(options.journalDir)
    this.shadow = new ShadowMirror(
      this.client,
      { maxPending: 10_000, keep: 1_000, file: join(options.journalDir, "shadow-divergences.jsonl"), ...options.shadow },
      this.client.transport.telemetry,
      this.log
    )
    const pending = this.journal.stats()
    if (pending.pending > 0) {
      this.log("warn", "reconciliation journal holds movements permitted offline before this start: replaying them", {
        pending: pending.pending,
        oldestAgeMs: pending.oldestAgeMs
      })
    }
    this.timer = setInterval(() => void this.tick(), options.replayIntervalMs ?? 1_000)
    this.timer.unref()
  }

  get mode(): MigrationMode {
    return this.currentMode
  }

  /** Switches mode at run time (a feature flag). Journaled movements are replayed whatever the mode: none is dropped. */
  setMode(mode: MigrationMode): void {
    if (!MIGRATION_MODES.includes(mode)) throw new Error(`unknown migration mode ${JSON.stringify(mode)}`)
    if (mode === this.currentMode) return
    this.log("info", "balance migration mode switched", { from: this.currentMode, to: mode })
    this.currentMode = mode
  }

  /** Reserve and commit in one step: the player is seated with `amount` chips from the wallet. */
  buyIn(request: BuyInRequest, legacy?: LegacyView): Promise<Decision> {
    return this.decide({ kind: "buy-in", tableId: request.tableId, accountId: request.accountId, amount: request.amount, key: request.key ?? randomUUID() }, legacy)
  }

  /**
   * Two-phase buy-in, phase one. enforce: holds the chips on the service
   * (refused: the player cannot sit). Unreachable, or the table still has
   * journaled movements waiting: an `offline` hold with nothing journaled,
   * since nothing has moved yet; the commit decides. off / shadow: a `legacy` hold.
   */
  async reserveBuyIn(request: BuyInRequest): Promise<BuyInHold> {
    const base = { key: request.key ?? randomUUID(), tableId: request.tableId, accountId: request.accountId, amount: request.amount }
    const movement: Movement = { kind: "buy-in", ...base }
    if (this.currentMode !== "enforce") return { ...base, state: "legacy" }
    if (this.journal.hasPendingFor(movement)) return { ...base, state: "offline" }
    try {
      const r = await this.client.checked("ReserveForBuyIn", {
        account_id: base.accountId,
        table_id: base.tableId,
        amount: base.amount,
        idempotency_key: base.key
      })
      return { ...base, state: "held", reservationId: r.reservation_id }
    } catch (e) {
      if (e instanceof BalanceRefusal) {
        this.count({ decision: "refused", key: base.key, code: e.code, message: e.detail }, movement)
        return { ...base, state: "refused", code: e.code, message: e.detail }
      }
      if (e instanceof BalanceUnavailable) return { ...base, state: "offline" }
      throw e
    }
  }

  /**
   * Two-phase buy-in, phase two. A `held` hold is committed (unreachable: the
   * buy-in is journaled with its reservation, and replay commits it, or takes
   * a new hold under a derived key if it lapsed). An `offline` hold is a whole
   * buy-in decided now, exactly like `buyIn`.
   */
  commitBuyIn(hold: BuyInHold, legacy?: LegacyView): Promise<Decision> {
    if (hold.state === "refused") return Promise.resolve({ decision: "refused", key: hold.key, code: hold.code, message: hold.message })
    const movement: Movement = {
      kind: "buy-in",
      tableId: hold.tableId,
      accountId: hold.accountId,
      amount: hold.amount,
      key: hold.key,
      ...(hold.state === "held" ? { reservationId: hold.reservationId } : {})
    }
    if (hold.state === "held" && this.currentMode !== "enforce") {
      // Switched away from enforce between the two phases: the hold is finished so the wallet is not left blocked.
      return this.applyEnforced(movement).then((d) => (d.decision === "refused" ? d : this.count({ decision: "legacy", key: hold.key }, movement)))
    }
    return this.decide(movement, legacy)
  }

  /** Two-phase buy-in, abandoned: a held hold is released (best effort: it lapses on its own anyway). */
  async releaseBuyIn(hold: BuyInHold, reason = "player left before sitting"): Promise<void> {
    if (hold.state !== "held") return
    try {
      await this.client.checked("ReleaseReservation", { reservation_id: hold.reservationId, reason })
    } catch (e) {
      this.log("info", "release of a buy-in hold failed; it lapses by itself", { reservationId: hold.reservationId, error: String(e) })
    }
  }

  contribute(request: ContributionRequest, legacy?: LegacyView): Promise<Decision> {
    return this.decide({
      kind: "contribution",
      tableId: request.tableId,
      handId: request.handId,
      seatId: request.seatId,
      accountId: request.accountId,
      amount: request.amount,
      contributionType: request.type,
      key: request.key ?? randomUUID()
    }, legacy)
  }

  settle(request: SettleRequest, legacy?: LegacyView): Promise<Decision> {
    return this.decide({ kind: "settle", tableId: request.tableId, handId: request.handId, winners: request.winners, key: request.key ?? randomUUID() }, legacy)
  }

  cancel(request: CancelRequest, legacy?: LegacyView): Promise<Decision> {
    return this.decide({ kind: "cancel", tableId: request.tableId, handId: request.handId, reason: request.reason, key: request.key ?? randomUUID() }, legacy)
  }

  cashOut(request: CashOutRequest, legacy?: LegacyView): Promise<Decision> {
    return this.decide({
      kind: "cash-out",
      tableId: request.tableId,
      accountId: request.accountId,
      seatId: request.seatId,
      amount: request.amount,
      key: request.key ?? randomUUID(),
      ...(request.handId === undefined ? {} : { handId: request.handId })
    }, legacy)
  }

  /** Replays the journal now, in order (one pass; the background timer does the same every replayIntervalMs). */
  replayPending(): Promise<ReplayPass> {
    if (this.replaying === undefined) {
      this.replaying = this.replayPass().finally(() => {
        this.replaying = undefined
      })
    }
    return this.replaying
  }

  /** Puts a refused movement back in line after the operator fixed its cause. */
  retryRefused(entryId: string): boolean {
    return this.journal.retry(entryId)
  }

  stats() {
    const journal = this.journal.stats()
    return {
      mode: this.currentMode,
      breaker: this.client.transport.breaker.current(),
      endpoints: this.client.transport.endpointStatus(),
      decisions: { ...this.counts },
      journal,
      shadow: { pending: this.shadow.pending(), mirrored: this.shadow.mirrored, divergences: { ...this.shadow.counts } as Record<DivergenceKind, number> }
    }
  }

  divergences(): ReadonlyArray<Divergence> {
    return this.shadow.recent()
  }

  journalEntries(): ReadonlyArray<JournalEntry> {
    return this.journal.all()
  }

  /**
   * Stops the timer, waits for a replay pass in progress and (up to 2 s) for the
   * shadow mirror to finish, closes the journal (and the client if it made it).
   */
  async close(): Promise<void> {
    clearInterval(this.timer)
    await this.replaying
    let timer: NodeJS.Timeout | undefined
    await Promise.race([this.shadow.idle(), new Promise<void>((resolve) => (timer = setTimeout(resolve, 2_000)))])
    clearTimeout(timer)
    this.journal.close()
    if (this.ownsClient) this.client.close()
  }

  private count(d: Decision, m: Movement): Decision {
    if (d.decision === "applied") this.counts.applied++
    else if (d.decision === "refused") this.counts.refused++
    else if (d.decision === "permitted-offline") this.counts.permittedOffline++
    else this.counts.legacy++
    this.client.transport.telemetry.onEvent({ type: "decision", mode: this.currentMode, movement: m.kind, decision: d.decision })
    return d
  }

  private async decide(movement: Movement, legacy: LegacyView | undefined): Promise<Decision> {
    switch (this.currentMode) {
      case "off":
        return this.count({ decision: "legacy", key: movement.key }, movement)
      case "shadow":
        this.shadow.mirror(movement, legacy)
        return this.count({ decision: "legacy", key: movement.key }, movement)
      case "enforce":
        return this.applyEnforced(movement)
    }
  }

  private async applyEnforced(movement: Movement): Promise<Decision> {
    const invalid = movementProblem(movement)
    if (invalid !== undefined) return this.count({ decision: "refused", key: movement.key, code: invalid.code, message: invalid.message }, movement)
    // Right after a switch from shadow: the movements of this table and players mirrored before it go first.
    if (this.shadow.hasPendingFor(movement)) await this.shadow.passed(movement)
    // Order: a movement must not overtake an earlier one of its table or players still in the journal
    // (a bet on a stack whose offline buy-in has not been replayed yet would be refused, or worse, succeed out of order).
    if (this.journal.hasPendingFor(movement)) return this.permit(movement, "backlog")
    try {
      const result = await applyMovement(this.client, movement)
      return this.count({ decision: "applied", key: movement.key, result }, movement)
    } catch (e) {
      if (e instanceof BalanceRefusal) return this.count({ decision: "refused", key: movement.key, code: e.code, message: e.detail }, movement)
      if (e instanceof BalanceUnavailable) {
        // A buy-in whose hold was taken but whose commit did not get through keeps the reservation for the replay.
        return this.permit(movement, e.reason === "circuit-open" ? "circuit-open" : "unavailable")
      }
      throw e
    }
  }

  private permit(movement: Movement, cause: JournalCause): Decision {
    const entry = this.journal.append(movement, cause)
    this.client.transport.telemetry.onEvent({ type: "journal-appended", movement: movement.kind, cause })
    this.log("warn", "balance service unreachable: movement permitted offline and journaled", {
      entryId: entry.id,
      cause,
      movement: movement.kind,
      tableId: movement.tableId,
      key: movement.key,
      pending: this.journal.stats().pending
    })
    this.reportJournal()
    return this.count({ decision: "permitted-offline", key: movement.key, entryId: entry.id, cause }, movement)
  }

  private reportJournal() {
    const s = this.journal.stats()
    this.client.transport.telemetry.onEvent({ type: "journal", pending: s.pending, oldestAgeMs: s.pending > 0 ? s.oldestAgeMs : 0, bytes: s.bytes })
  }

  private async tick() {
    this.reportJournal()
    if (this.journal.stats().pending > 0) await this.replayPending().catch(() => undefined)
  }

  private async replayPass(): Promise<ReplayPass> {
    let applied = 0
    let refused = 0
    for (const entry of this.journal.pending()) {
      // A margin of a tenth of the TTL: the service's clock and ours need not agree to the second.
      if (entry.cause === "unavailable" && !entry.retried && Date.now() - entry.at > this.idempotencyTtlMs * 0.9) {
        const advice = `the call may have reached the service longer ago than the service keeps keys: look for this movement (key ${entry.movement.key}) ` +
          "in the service's ledger (the table's and player's transfers around the journal time). Present: nothing to do. " +
          "Absent: `balance-reconcile retry <journalDir> <id>` replays it."
        this.journal.markRefused(entry.id, OUTCOME_UNKNOWN_PAST_KEY_TTL, "replay could apply it twice", advice)
        refused++
        this.counts.replayRefused++
        this.log("error", "movement permitted offline is older than the service's idempotency TTL: operator action needed", {
          entryId: entry.id,
          movement: entry.movement,
          advice
        })
        continue
      }
      try {
        const result = await applyMovement(this.client, entry.movement)
        this.journal.markApplied(entry.id, result)
        applied++
        this.counts.replayed++
        this.client.transport.telemetry.onEvent({ type: "journal-replayed", movement: entry.movement.kind, outcome: "applied" })
      } catch (e) {
        if (e instanceof BalanceRefusal) {
          const advice = adviceFor(entry.movement, e.code)
          this.journal.markRefused(entry.id, e.code, e.detail, advice)
          refused++
          this.counts.replayRefused++
          this.client.transport.telemetry.onEvent({ type: "journal-replayed", movement: entry.movement.kind, outcome: "refused" })
          this.log("error", "movement permitted offline was refused on replay: operator action needed", {
            entryId: entry.id,
            movement: entry.movement,
            code: e.code,
            detail: e.detail,
            advice
          })
          continue
        }
        const remaining = this.journal.stats().pending
        this.reportJournal()
        return { applied, refused, remaining, stoppedBy: e instanceof Error ? e.message : String(e) }
      }
    }
    this.journal.rotateIfSettled(JOURNAL_ROTATE_BYTES)
    const after = this.journal.stats()
    this.reportJournal()
    if (applied + refused > 0) {
      this.log("info", "reconciliation journal replayed", { applied, refused, remaining: after.pending })
    }
    return { applied, refused, remaining: after.pending }
  }
}

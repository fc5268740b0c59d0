import { appendFileSync } from "node:fs"
import type { BalanceClient } from "../BalanceClient.ts"
import { BalanceRefusal, BalanceUnavailable } from "../errors.ts"
import type { ClientLogger, ClientTelemetry } from "../telemetry.ts"
import { applyMovement, type Movement, type MovementResult, sharesTableOrPlayer } from "./movements.ts"

/** The game's own view of the outcome, to compare with the service's. All optional: compare what you know. */
export interface LegacyView {
  /** The mover's stack at the table after the movement, by the game's count. */
  readonly stackAfter?: number
  /** A settle: each winner's stack afterwards. */
  readonly stacksAfter?: Readonly<Record<string, number>>
}

export type DivergenceKind =
  /** The service refused what the game allowed. */
  | "refused"
  /** Both allowed it, but the stacks afterwards differ. */
  | "stack-mismatch"
  /** The mirror could not reach the service: the service's books now miss this movement. */
  | "unavailable"
  /** Too many movements waiting to be mirrored: this one was never sent. */
  | "dropped"
  /** Any other failure (a misconfiguration: UNAUTHENTICATED, ...). */
  | "error"

export interface Divergence {
  readonly at: number
  readonly kind: DivergenceKind
  readonly movement: Movement
  readonly detail: string
}

export interface ShadowSettings {
  /** Movements waiting to be mirrored before new ones are dropped (counted as divergences). */
  readonly maxPending: number
  /** Divergences kept in memory for `recent()`. */
  readonly keep: number
  /** Where divergences are appended as JSON lines (optional). */
  readonly file?: string
}

/** Calls every waiter; the list to keep (a new, empty one). */
const release = (waiters: ReadonlyArray<() => void>): Array<() => void> => {
  for (const w of waiters) w()
  return []
}

/**
 * Shadow (dual-write) mode: the game decides with its legacy chip logic and
 * every movement is mirrored to the service in the background, in order, one
 * at a time. `mirror` only enqueues: it never waits for the network and never
 * throws, so the service can neither slow nor break the game. What the
 * service says differently is recorded and counted.
 */
export class ShadowMirror {
  private readonly queue: Array<{ movement: Movement; legacy: LegacyView | undefined }> = []
  private running = false
  /** The movement being mirrored now. */
  private current: Movement | undefined
  /** Called after each movement mirrored (whatever its outcome). */
  private progressWaiters: Array<() => void> = []
  private readonly recentDivergences: Array<Divergence> = []
  readonly counts: Record<DivergenceKind, number> = { refused: 0, "stack-mismatch": 0, unavailable: 0, dropped: 0, error: 0 }
  mirrored = 0
  private idleWaiters: Array<() => void> = []

  private readonly client: BalanceClient
  private readonly settings: ShadowSettings
  private readonly telemetry: ClientTelemetry
  private readonly log: ClientLogger

  constructor(client: BalanceClient, settings: ShadowSettings, telemetry: ClientTelemetry, log: ClientLogger) {
    this.client = client
    this.settings = settings
    this.telemetry = telemetry
    this.log = log
  }

  mirror(movement: Movement, legacy: LegacyView | undefined): void {
    try {
      if (this.queue.length >= this.settings.maxPending) {
        this.telemetry.onEvent({ type: "shadow-dropped", movement: movement.kind })
        this.record("dropped", movement, `more than ${this.settings.maxPending} movements waiting to be mirrored`)
        return
      }
      this.queue.push({ movement, legacy })
      if (!this.running) void this.drain()
    } catch {
      // Never into the game.
    }
  }

  pending(): number {
    return this.queue.length + (this.running ? 1 : 0)
  }

  /** Whether a movement of this table or of one of these players is queued or being mirrored. */
  hasPendingFor(movement: Movement): boolean {
    const related = sharesTableOrPlayer(movement)
    return (this.current !== undefined && related(this.current)) || this.queue.some((q) => related(q.movement))
  }

  /**
   * Resolves once nothing of this table or these players is left to mirror: an enforced movement
   * after a switch from shadow waits for the mirrored ones before it (a bet behind its buy-in). Each
   * mirrored call has its own deadline; the wait is as long as all of them (client README).
   */
  async passed(movement: Movement): Promise<void> {
    while (this.running && this.hasPendingFor(movement)) await new Promise<void>((resolve) => this.progressWaiters.push(resolve))
  }

  /** Resolves when every enqueued movement has been mirrored (tests, shutdown). */
  idle(): Promise<void> {
    if (!this.running && this.queue.length === 0) return Promise.resolve()
    return new Promise((resolve) => this.idleWaiters.push(resolve))
  }

  recent(): ReadonlyArray<Divergence> {
    return this.recentDivergences
  }

  private async drain() {
    this.running = true
    try {
      for (let next = this.queue.shift(); next !== undefined; next = this.queue.shift()) {
        this.current = next.movement
        try {
          await this.mirrorOne(next.movement, next.legacy)
        } catch {
          // Nothing stops the queue (movements behind it, and enforced ones waiting in passed()).
        }
        this.current = undefined
        this.progressWaiters = release(this.progressWaiters)
      }
    } finally {
      this.running = false
      this.current = undefined
      this.progressWaiters = release(this.progressWaiters)
      this.idleWaiters = release(this.idleWaiters)
    }
  }

  private async mirrorOne(movement: Movement, legacy: LegacyView | undefined) {
    let result: MovementResult
    try {
      result = await applyMovement(this.client, movement)
      this.mirrored++
    } catch (e) {
      if (e instanceof BalanceRefusal) this.record("refused", movement, `${e.code}: ${e.detail}`)
      else if (e instanceof BalanceUnavailable) this.record("unavailable", movement, e.message)
      else this.record("error", movement, e instanceof Error ? e.message : String(e))
      return
    }
    let stackAfter = result.stackAfter
    if (legacy?.stackAfter !== undefined && stackAfter === undefined && movement.kind === "buy-in") {
      // A commit answers the wallet's balance, not the stack: read the stack the buy-in made.
      try {
        stackAfter = Number((await this.client.checked("GetTableStack", { table_id: movement.tableId, account_id: movement.accountId })).balance)
      } catch (e) {
        this.record(e instanceof BalanceUnavailable ? "unavailable" : "error", movement, `reading the stack to compare: ${e instanceof Error ? e.message : String(e)}`)
        return
      }
    }
    if (legacy?.stackAfter !== undefined && stackAfter !== undefined && legacy.stackAfter !== stackAfter) {
      this.record("stack-mismatch", movement, `game ${legacy.stackAfter}, service ${stackAfter}`)
    }
    if (legacy?.stacksAfter !== undefined && result.stacksAfter !== undefined) {
      for (const [account, stack] of Object.entries(legacy.stacksAfter)) {
        const service = result.stacksAfter[account]
        if (service !== undefined && service !== stack) this.record("stack-mismatch", movement, `${account}: game ${stack}, service ${service}`)
      }
    }
  }

  private record(kind: DivergenceKind, movement: Movement, detail: string) {
    const d: Divergence = { at: Date.now(), kind, movement, detail }
    this.counts[kind]++
    this.recentDivergences.push(d)
    if (this.recentDivergences.length > this.settings.keep) this.recentDivergences.shift()
    try {
      // The game's own telemetry and logger: whatever they throw stays here.
      this.telemetry.onEvent({ type: "shadow-divergence", kind, movement: movement.kind })
      this.log("warn", "shadow divergence", { kind, movement: movement.kind, tableId: movement.tableId, key: movement.key, detail })
    } catch {
      // Observation only.
    }
    if (this.settings.file !== undefined) {
      try {
        appendFileSync(this.settings.file, `${JSON.stringify(d)}\n`)
      } catch {
        // Observation only: a full disk must not reach the game.
      }
    }
  }
}

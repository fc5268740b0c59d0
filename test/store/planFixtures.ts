import { Effect } from "effect"
import type { Versioned } from "../../src/domain/accounts.ts"
import type { Command } from "../../src/domain/commands.ts"
import type { Plan } from "../../src/domain/plan.ts"
import { missingKeys, plan } from "../../src/domain/planner.ts"
import { NO_RAKE } from "../../src/domain/potMath.ts"
import type { LedgerRules } from "../../src/domain/rules.ts"
import { type ApplyRequest, type ApplyResult, Store } from "../../src/store/Store.ts"
import { eventuallyEffect } from "../support/eventually.ts"

/**
 * Real plans from the domain planner, so the store is exercised with exactly
 * what the ledger will send it.
 */

export const RULES: LedgerRules = { rake: NO_RAKE, reservationTimeoutMs: 30_000 }

let counter = 0
/** Unique across the whole test file: ids, namespaces, idempotency keys. */
export const unique = (what: string) => `${what}${++counter}`

export interface Idempotency {
  readonly key: string
  readonly fingerprint: string
  readonly ttlMs: number
}

/** Loads what the command reads (asking the planner again until nothing is missing) and plans it at `now`. */
export const planCommand = (command: Command, now = 1_000) =>
  Effect.gen(function*() {
    const store = yield* Store
    const state = new Map<string, Versioned>()
    for (let missing = missingKeys(command, state); missing.length > 0; missing = missingKeys(command, state)) {
      const snapshot = yield* store.load(missing)
      for (const [k, v] of snapshot.objects) state.set(k, v)
    }
    const outcome = plan(command, state, { now, newId: () => unique("id-"), hmacKey: undefined }, RULES)
    if (outcome._tag !== "Plan") return yield* Effect.die(new Error(`expected a plan for ${command.op}, got ${outcome._tag}`))
    return outcome.plan
  })

export const request = (p: Plan, idempotency: Idempotency | null = null): ApplyRequest => ({
  plan: p,
  responseJson: JSON.stringify(p.response),
  idempotency
})

/** Plans and applies one command; returns both. */
export const exec = (command: Command, options: { readonly now?: number; readonly idempotency?: Idempotency } = {}) =>
  Effect.gen(function*() {
    const p = yield* planCommand(command, options.now)
    const result: ApplyResult = yield* (yield* Store).apply(request(p, options.idempotency ?? null))
    return { plan: p, result }
  })

/** Applies and insists on Applied (setup steps). */
export const execApplied = (command: Command, options: { readonly now?: number; readonly idempotency?: Idempotency } = {}) =>
  Effect.flatMap(exec(command, options), ({ plan: p, result }) =>
    result._tag === "Applied" ? Effect.succeed(p) : Effect.die(new Error(`expected Applied, got ${result._tag}`)))

export const ensure = (accountId: string, initialBalance: number) =>
  execApplied({ op: "EnsureAccount", accountId, initialBalance })

export const deposit = (accountId: string, amount: number) =>
  execApplied({ op: "Deposit", accountId, amount, source: "test", idempotencyKey: unique("dep-") })

/** Runs `effect` until `ok` holds (test/support/eventually.ts), failing the test after `timeoutMs`. */
export const eventually = <A, E, R>(effect: Effect.Effect<A, E, R>, ok: (a: A) => boolean, timeoutMs = 10_000) =>
  Effect.map(
    eventuallyEffect("the condition", Effect.map(effect, (a) => (ok(a) ? { value: a } : undefined)), { timeoutMs }),
    (found) => found.value
  )

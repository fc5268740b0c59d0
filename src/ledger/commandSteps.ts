import { REFUSALS, type RefusalCode } from "../domain/errors.ts"
import type { ApplyResult } from "../store/Store.ts"

/**
 * What the ledger does next while it executes one command: a pure decision
 * from what just happened. `Ledger.execute` carries out each step and reports
 * its outcome as the next event; every rule of the retry loop is here.
 *
 *   Fill ──Filled──▶ Plan ──Planned──▶ Apply ──ApplyDone──▶ answer / fail
 *    ▲                │                  │
 *    │             ReadAgain             │ Conflict
 *    │                │ ReadAgainDone    │
 *    └── next attempt ┴──────────────────┘   (none left: Contention)
 *
 * A store that does not answer (or answers too late) fails the step itself
 * with StoreUnavailable after the store's own retries: no event, no decision.
 */

/** What a read said about the command's idempotency key. */
export type RecordSeen =
  /** The read did not ask (no key, already asked, or nothing needed reading). */
  | "notAsked"
  /** Asked: no earlier success with this key. */
  | "none"
  /** An earlier success of this same request: its stored response is the answer. */
  | "sameRequest"
  /** The key was used for another request. */
  | "otherRequest"

/** Where the state a plan was made from came from. */
export type PlanBasis =
  /** Every key from one read: a state the store really had at one instant. */
  | "snapshot"
  /** Some keys from this process's cache, or from reads made at different times. */
  | "cache"

/** What the planner answered, as far as the decision goes. */
export type PlanVerdict =
  | { readonly _tag: "Plan" }
  | { readonly _tag: "NoChange" }
  | { readonly _tag: "Refusal"; readonly code: RefusalCode }
  | { readonly _tag: "Inconsistent" }

export type Event =
  | { readonly _tag: "Filled"; readonly record: RecordSeen }
  | { readonly _tag: "Planned"; readonly basis: PlanBasis; readonly verdict: PlanVerdict }
  | { readonly _tag: "ReadAgainDone"; readonly record: RecordSeen }
  | { readonly _tag: "ApplyDone"; readonly result: ApplyResult["_tag"] }

/** How a command ends with an answer. */
export type Answer =
  /** The plan this attempt applied. */
  | "Applied"
  /** The planner's answer that needed no write (a repeated commit): confirmed on replicas first. */
  | "Unchanged"
  /** The stored response an earlier success left under the key, found by a read: confirmed on replicas first. */
  | "ReplayedByRead"
  /** The stored response apply found under the key. */
  | "ReplayedByApply"

/** How a command ends with a failure. */
export type Failure =
  /** The planner's refusal. */
  | "Refusal"
  /** IDEMPOTENCY_KEY_REUSED. */
  | "KeyReused"
  /** AMOUNT_OVERFLOW: a system account would leave the safe integer range. */
  | "Overflow"
  /** LedgerContention: every attempt lost a race. */
  | "Contention"
  /** The store's own state contradicts itself (one snapshot, Inconsistent): a defect. */
  | "CorruptState"

export type Step =
  /** Put every key the command needs in the working state: cache, assumed absent, else one read (asking for the key's record if `askKey`). */
  | { readonly _tag: "Fill"; readonly askKey: boolean; readonly pause: boolean }
  | { readonly _tag: "Plan" }
  /** Read every key of the command again, in one round trip (with the key's record if `askKey`). */
  | { readonly _tag: "ReadAgain"; readonly askKey: boolean }
  | { readonly _tag: "Apply" }
  | { readonly _tag: "Answer"; readonly answer: Answer }
  | { readonly _tag: "Fail"; readonly failure: Failure }

export interface Progress {
  readonly step: Step
  /** Planning attempts so far, this one included (1-based). */
  readonly attempt: number
  readonly maxAttempts: number
  /** The command carries an idempotency key. */
  readonly keyed: boolean
  /** A read already asked the store for the key's record. */
  readonly keyChecked: boolean
}

export const isDone = (step: Step): step is Extract<Step, { _tag: "Answer" | "Fail" }> =>
  step._tag === "Answer" || step._tag === "Fail"

const askKey = (p: Pick<Progress, "keyed" | "keyChecked">) => p.keyed && !p.keyChecked

export const start = (keyed: boolean, maxAttempts: number): Progress => ({
  step: { _tag: "Fill", askKey: keyed, pause: false },
  attempt: 1,
  maxAttempts,
  keyed,
  keyChecked: false
})

const to = (p: Progress, step: Step): Progress => ({ ...p, step })

/** Another attempt from the top, or Contention when none is left. */
const nextAttempt = (p: Progress, pause: boolean): Progress =>
  p.attempt >= p.maxAttempts
    ? to(p, { _tag: "Fail", failure: "Contention" })
    : { ...p, attempt: p.attempt + 1, step: { _tag: "Fill", askKey: askKey(p), pause } }

/** A read's record decides first: a stored success answers, a key used elsewhere refuses. */
const afterRead = (p: Progress, record: RecordSeen, otherwise: (p: Progress) => Progress): Progress => {
  const seen = record === "notAsked" ? p : { ...p, keyChecked: true }
  switch (record) {
    case "sameRequest":
      return to(seen, { _tag: "Answer", answer: "ReplayedByRead" })
    case "otherRequest":
      return to(seen, { _tag: "Fail", failure: "KeyReused" })
    case "none":
    case "notAsked":
      return otherwise(seen)
  }
}

const readAgain = (p: Progress): Progress => to(p, { _tag: "ReadAgain", askKey: askKey(p) })

const afterPlan = (p: Progress, basis: PlanBasis, verdict: PlanVerdict): Progress => {
  switch (verdict._tag) {
    case "Plan":
      return to(p, { _tag: "Apply" })
    case "Inconsistent":
      // From one snapshot the store itself holds it; from a mix, reading again settles it.
      return basis === "snapshot" ? to(p, { _tag: "Fail", failure: "CorruptState" }) : readAgain(p)
    case "Refusal":
      // A refusal fresh state could not change stands. Else only a snapshot's refusal stands, and only
      // once the key was asked about: the key may hold an earlier success whose response is the answer.
      if (!REFUSALS[verdict.code].transient) return to(p, { _tag: "Fail", failure: "Refusal" })
      return basis === "snapshot" && !askKey(p) ? to(p, { _tag: "Fail", failure: "Refusal" }) : readAgain(p)
    case "NoChange":
      // A keyed command that needs no write (cancelling a cancelled pot) may be the retry of one that
      // did write, or reuse a key: the stored record answers first, as for any keyed command.
      return askKey(p) ? readAgain(p) : to(p, { _tag: "Answer", answer: "Unchanged" })
  }
}

const afterApply = (p: Progress, result: ApplyResult["_tag"]): Progress => {
  switch (result) {
    case "Applied":
      return to(p, { _tag: "Answer", answer: "Applied" })
    case "Replayed":
      return to(p, { _tag: "Answer", answer: "ReplayedByApply" })
    case "KeyReused":
      return to(p, { _tag: "Fail", failure: "KeyReused" })
    case "Overflow":
      return to(p, { _tag: "Fail", failure: "Overflow" })
    case "Conflict":
      // Re-plan at once with the state the conflict returned. Another instance pipelining writes to
      // the same wallet can win every race; a short random pause every fourth attempt breaks the lockstep.
      return nextAttempt(p, p.attempt % 4 === 0)
  }
}

/** An event the current step cannot produce: the executor and this module disagree. */
export class UnexpectedEvent extends Error {
  constructor(step: Step, event: Event) {
    super(`event ${event._tag} cannot follow step ${step._tag}`)
    this.name = "UnexpectedEvent"
  }
}

/** The next step, given the step just carried out and what it produced. */
export const next = (p: Progress, event: Event): Progress => {
  switch (event._tag) {
    case "Filled":
      if (p.step._tag !== "Fill") break
      return afterRead(p, event.record, (q) => to(q, { _tag: "Plan" }))
    case "Planned":
      if (p.step._tag !== "Plan") break
      return afterPlan(p, event.basis, event.verdict)
    case "ReadAgainDone":
      if (p.step._tag !== "ReadAgain") break
      return afterRead(p, event.record, (q) => nextAttempt(q, false))
    case "ApplyDone":
      if (p.step._tag !== "Apply") break
      return afterApply(p, event.result)
  }
  throw new UnexpectedEvent(p.step, event)
}

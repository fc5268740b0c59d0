import { assert, describe, it } from "@effect/vitest"
import { REFUSALS, RefusalCode } from "../../src/domain/errors.ts"
import {
  type Event,
  isDone,
  next,
  type PlanBasis,
  type PlanVerdict,
  type Progress,
  type RecordSeen,
  start,
  type Step,
  UnexpectedEvent
} from "../../src/ledger/commandSteps.ts"

const MAX = 8
const RECORDS: ReadonlyArray<RecordSeen> = ["notAsked", "none", "sameRequest", "otherRequest"]
const BASES: ReadonlyArray<PlanBasis> = ["snapshot", "cache"]
const VERDICTS: ReadonlyArray<PlanVerdict> = [
  { _tag: "Plan" },
  { _tag: "NoChange" },
  { _tag: "Inconsistent" },
  ...RefusalCode.literals.map((code) => ({ _tag: "Refusal", code }) as const)
]
const APPLY_RESULTS = ["Applied", "Replayed", "KeyReused", "Conflict", "Overflow"] as const

/** Every event the executor can report. */
const EVENTS: ReadonlyArray<Event> = [
  ...RECORDS.map((record) => ({ _tag: "Filled", record }) as const),
  ...BASES.flatMap((basis) => VERDICTS.map((verdict) => ({ _tag: "Planned", basis, verdict }) as const)),
  ...RECORDS.map((record) => ({ _tag: "ReadAgainDone", record }) as const),
  ...APPLY_RESULTS.map((result) => ({ _tag: "ApplyDone", result }) as const)
]

/** Every step that waits for an event, in each of its forms. */
const WAITING: ReadonlyArray<Step> = [
  { _tag: "Fill", askKey: false, pause: false },
  { _tag: "Fill", askKey: true, pause: false },
  { _tag: "Fill", askKey: false, pause: true },
  { _tag: "Plan" },
  { _tag: "ReadAgain", askKey: false },
  { _tag: "ReadAgain", askKey: true },
  { _tag: "Apply" }
]

/** Every progress a command can be in while it waits (a command without a key never checked one). */
const STATES: ReadonlyArray<Progress> = WAITING.flatMap((step) =>
  [1, 2, 3, 4, 5, MAX - 1, MAX].flatMap((attempt) =>
    [[false, false], [true, false], [true, true]].map(([keyed, keyChecked]) => ({
      step,
      attempt,
      maxAttempts: MAX,
      keyed: keyed!,
      keyChecked: keyChecked!
    }))))

/** The event a step produces: Fill -> Filled, Plan -> Planned, ReadAgain -> ReadAgainDone, Apply -> ApplyDone. */
const EVENT_OF_STEP = { Fill: "Filled", Plan: "Planned", ReadAgain: "ReadAgainDone", Apply: "ApplyDone" } as const

const show = (s: Progress) =>
  `${s.step._tag}${"answer" in s.step ? ` ${s.step.answer}` : ""}${"failure" in s.step ? ` ${s.step.failure}` : ""}`

/**
 * The rules of DESIGN §4 and the ledger's retry loop, written as what must come next. Each line
 * is one rule; `keyOpen` = the command has a key the store was not asked about yet.
 */
const expected = (s: Progress, e: Event): string => {
  const keyOpen = s.keyed && !s.keyChecked
  const another = s.attempt < MAX ? `Fill#${s.attempt + 1}` : "Fail Contention"
  const record = (r: RecordSeen, otherwise: string) =>
    r === "sameRequest" ? "Answer ReplayedByRead" : r === "otherRequest" ? "Fail KeyReused" : otherwise
  switch (e._tag) {
    case "Filled":
      return record(e.record, "Plan")
    case "ReadAgainDone":
      return record(e.record, another)
    case "ApplyDone":
      return {
        Applied: "Answer Applied",
        Replayed: "Answer ReplayedByApply",
        KeyReused: "Fail KeyReused",
        Overflow: "Fail Overflow",
        Conflict: another
      }[e.result]
    case "Planned": {
      const v = e.verdict
      if (v._tag === "Plan") return "Apply"
      if (v._tag === "NoChange") return keyOpen ? "ReadAgain" : "Answer Unchanged"
      if (v._tag === "Inconsistent") return e.basis === "snapshot" ? "Fail CorruptState" : "ReadAgain"
      if (!REFUSALS[v.code].transient) return "Fail Refusal"
      return e.basis === "snapshot" && !keyOpen ? "Fail Refusal" : "ReadAgain"
    }
  }
}

const outcome = (after: Progress) =>
  after.step._tag === "Fill" ? `Fill#${after.attempt}` : show(after)

describe("commandSteps: the ledger's retry loop as a decision", () => {
  it("every state x every event: the step the rules give, or UnexpectedEvent for an event the step cannot produce", () => {
    let checked = 0
    for (const s of STATES) {
      for (const e of EVENTS) {
        const label = `${show(s)} #${s.attempt} keyed=${s.keyed} checked=${s.keyChecked} + ${JSON.stringify(e)}`
        if (EVENT_OF_STEP[s.step._tag as keyof typeof EVENT_OF_STEP] !== e._tag) {
          assert.throws(() => next(s, e), UnexpectedEvent, undefined, label)
          continue
        }
        const after = next(s, e)
        assert.strictEqual(outcome(after), expected(s, e), label)
        checked++
      }
    }
    // 7 waiting steps x 7 attempts x 3 key states, each against the events of its own kind.
    assert.strictEqual(checked, 7 * 3 * (3 * RECORDS.length + 1 * BASES.length * VERDICTS.length + 2 * RECORDS.length + 1 * APPLY_RESULTS.length))
  })

  it("a read that asked about the key marks it checked; later reads do not ask again", () => {
    for (const s of STATES) {
      for (const e of EVENTS) {
        if (EVENT_OF_STEP[s.step._tag as keyof typeof EVENT_OF_STEP] !== e._tag) continue
        const after = next(s, e)
        const asked = (e._tag === "Filled" || e._tag === "ReadAgainDone") && e.record !== "notAsked"
        assert.strictEqual(after.keyChecked, s.keyChecked || asked)
        if (after.step._tag === "Fill" || after.step._tag === "ReadAgain") {
          assert.strictEqual(after.step.askKey, after.keyed && !after.keyChecked)
        }
      }
    }
  })

  it("attempts only grow by one, only on a new Fill, never past the budget; a pause comes every fourth conflict", () => {
    for (const s of STATES) {
      for (const e of EVENTS) {
        if (EVENT_OF_STEP[s.step._tag as keyof typeof EVENT_OF_STEP] !== e._tag) continue
        const after = next(s, e)
        assert.isAtMost(after.attempt, MAX)
        assert.strictEqual(after.attempt, after.step._tag === "Fill" ? s.attempt + 1 : s.attempt)
        if (after.step._tag === "Fill") {
          assert.strictEqual(after.step.pause, e._tag === "ApplyDone" && s.attempt % 4 === 0)
        }
        if (isDone(after.step)) assert.throws(() => next(after, e), UnexpectedEvent)
      }
    }
  })

  it("starts by filling, asking about the key only when there is one", () => {
    assert.deepStrictEqual(start(true, MAX).step, { _tag: "Fill", askKey: true, pause: false })
    assert.deepStrictEqual(start(false, MAX).step, { _tag: "Fill", askKey: false, pause: false })
  })

  it("a command that keeps conflicting gives up after exactly the budget of attempts", () => {
    let p = start(true, MAX)
    const walk: Array<string> = []
    while (!isDone(p.step)) {
      const e: Event = p.step._tag === "Fill"
        ? { _tag: "Filled", record: p.step.askKey ? "none" : "notAsked" }
        : p.step._tag === "Plan"
        ? { _tag: "Planned", basis: "cache", verdict: { _tag: "Plan" } }
        : { _tag: "ApplyDone", result: "Conflict" }
      walk.push(p.step._tag)
      p = next(p, e)
    }
    assert.deepStrictEqual(p.step, { _tag: "Fail", failure: "Contention" })
    assert.strictEqual(walk.filter((s) => s === "Apply").length, MAX)
  })
})

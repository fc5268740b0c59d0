import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { VerificationJobs } from "../../src/ledger/VerificationJobs.ts"
import { makeFaultyStore } from "../support/faultyStore.ts"
import { ledgerCoreOn } from "../support/ledgerLayers.ts"
import { Ledger } from "../../src/ledger/Ledger.ts"

/** Polls a job until it leaves RUNNING (its fiber runs on the same scheduler: yielding lets it progress). */
const finished = (jobId: string) =>
  Effect.gen(function*() {
    const jobs = yield* VerificationJobs
    for (let i = 0; i < 10_000; i++) {
      const job = yield* jobs.get(jobId)
      if (job !== undefined && job.status !== "RUNNING") return job
      yield* Effect.yieldNow
    }
    return yield* Effect.die(new Error(`job ${jobId} never finished`))
  })

const jobsOn = (faulty: ReturnType<typeof makeFaultyStore>) => VerificationJobs.layer.pipe(Layer.provideMerge(ledgerCoreOn(faulty.layer)))

describe("VerificationJobs", () => {
  it.live("a job reports every account checked and keeps the report", () => {
    const faulty = makeFaultyStore()
    return Effect.gen(function*() {
      const ledger = yield* Ledger
      for (const id of ["a", "b", "c"]) yield* ledger.execute({ op: "EnsureAccount", accountId: id, initialBalance: 10 })
      const job = yield* (yield* VerificationJobs).start({ mode: "full" })
      const done = yield* finished(job.jobId)
      assert.strictEqual(done.status, "DONE")
      assert.deepStrictEqual([done.progress.accountsChecked, done.progress.accountsTotal], [3, 3])
      assert.strictEqual(done.report?.ok, true)
    }).pipe(Effect.provide(jobsOn(faulty)))
  })

  it.live("one job at a time: a second start names the running one", () => {
    const faulty = makeFaultyStore()
    return Effect.gen(function*() {
      const jobs = yield* VerificationJobs
      faulty.set("hang")
      const first = yield* jobs.start({ mode: "full" })
      const second = yield* Effect.flip(jobs.start({ mode: "incremental" }))
      assert.strictEqual(second._tag, "VerificationRunning")
      assert.strictEqual(second.jobId, first.jobId)
      assert.strictEqual((yield* jobs.get(first.jobId))?.status, "RUNNING")
    }).pipe(Effect.provide(jobsOn(faulty)))
  })

  it.live("a job whose store stops answering ends FAILED with the reason, and the next one may start", () => {
    const faulty = makeFaultyStore()
    return Effect.gen(function*() {
      const jobs = yield* VerificationJobs
      faulty.set("down")
      const job = yield* jobs.start({ mode: "full" })
      const failed = yield* finished(job.jobId)
      assert.strictEqual(failed.status, "FAILED")
      assert.include(failed.error ?? "", "test: store is down")
      faulty.set("none")
      const next = yield* jobs.start({ mode: "full" })
      assert.strictEqual((yield* finished(next.jobId)).status, "DONE")
    }).pipe(Effect.provide(jobsOn(faulty)))
  })
})

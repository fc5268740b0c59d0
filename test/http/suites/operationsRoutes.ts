import { randomUUID } from "node:crypto"
import { assert, describe } from "@effect/vitest"
import { Effect } from "effect"
import { appendDeadLetter } from "../../../src/degradation/CreditJournal.ts"
import { type DeadLetterRecord, deadLetterPath } from "../../../src/degradation/DeadLetters.ts"
import type { Command } from "../../../src/domain/commands.ts"
import { eventuallyEffect } from "../../support/eventually.ts"
import { admin, anonymous } from "../support/client.ts"
import type { HttpApiIt } from "../support/httpApiSuite.ts"
import { createAccount, executeCommand, uniqueId } from "../support/seed.ts"
import { TestHttpServer } from "../support/testServer.ts"

export const operationsRoutes = (it: HttpApiIt) =>
  describe("admin operations routes", () => {
    /** A dead letter exactly as CreditQueue writes it after a refused replay. */
    const deadLetter = Effect.fnUntraced(function*(command: Command, error: string) {
      const { dataDir } = yield* TestHttpServer
      const record: DeadLetterRecord = { id: randomUUID(), enqueuedAt: Date.now() - 60_000, deadLetteredAt: Date.now(), command, error, message: `${error} on replay` }
      yield* Effect.promise(() => appendDeadLetter(deadLetterPath(dataDir), record))
      return record.id
    })
    const letter = Effect.fnUntraced(function*(id: string, status = "ALL") {
      const reply = yield* admin.get(`/api/admin/dead-letters?status=${status}&limit=200`)
      assert.strictEqual(reply.status, 200)
      return reply.body.items.find((l: { queueId: string }) => l.queueId === id)
    })

    it.effect("lists a dead-lettered cash-out; a retry refused again is 422 and recorded; once the stack is there, the retry applies it once", () => Effect.gen(function*() {
      const accountId = yield* createAccount("dead", 500)
      const tableId = uniqueId("table")
      const idempotencyKey = uniqueId("cashout")
      const id = yield* deadLetter({ op: "CashOut", accountId, tableId, seatId: 1, amount: 100, idempotencyKey }, "INSUFFICIENT_STACK")

      assert.containSubset(yield* letter(id, "OPEN"), {
        queueId: id, op: "CashOut", accountId, tableId, amount: 100, idempotencyKey, error: "INSUFFICIENT_STACK", status: "OPEN", retries: []
      })
      const refused = yield* admin.post(`/api/admin/dead-letters/${id}/retry`)
      assert.deepStrictEqual([refused.status, refused.body.error], [422, "INSUFFICIENT_STACK"])
      assert.containSubset(yield* letter(id, "OPEN"), { status: "OPEN", retries: [{ outcome: "REFUSED", error: "INSUFFICIENT_STACK" }] })

      const r = yield* executeCommand({ op: "Reserve", accountId, tableId, amount: 100, timeoutMs: 600_000, idempotencyKey: uniqueId("r") })
      yield* executeCommand({ op: "Commit", reservationId: r.reservationId })
      const applied = yield* admin.post(`/api/admin/dead-letters/${id}/retry`)
      assert.strictEqual(applied.status, 200)
      assert.containSubset(applied.body.retry, { outcome: "APPLIED", result: { newBalance: 500 } })
      assert.strictEqual(applied.body.deadLetter.status, "RESOLVED")
      assert.strictEqual((yield* admin.get(`/api/accounts/${accountId}/balance`)).body.balance, 500)

      const again = yield* admin.post(`/api/admin/dead-letters/${id}/retry`)
      assert.deepStrictEqual([again.status, again.body.error], [409, "DEAD_LETTER_RESOLVED"])
      assert.isUndefined(yield* letter(id, "OPEN"))
      assert.containSubset(yield* letter(id, "RESOLVED"), { status: "RESOLVED", retries: [{ outcome: "REFUSED" }, { outcome: "APPLIED" }] })
    }))

    it.effect("a retry of a credit whose key was applied meanwhile answers the first result and moves nothing", () => Effect.gen(function*() {
      const accountId = yield* createAccount("replayed", 0)
      const command = { op: "Deposit", accountId, amount: 250, source: "PROMO", idempotencyKey: uniqueId("dep") } as const
      const first = yield* executeCommand(command)
      const id = yield* deadLetter(command, "ACCOUNT_NOT_FOUND")
      const reply = yield* admin.post(`/api/admin/dead-letters/${id}/retry`)
      assert.strictEqual(reply.status, 200)
      assert.containSubset(reply.body.retry, { outcome: "REPLAYED", result: { transactionId: first.transactionId } })
      assert.strictEqual((yield* admin.get(`/api/accounts/${accountId}/balance`)).body.balance, 250)
    }))

    it.effect("dead letters: unknown id is 404, a malformed one 400, paging by cursor, admins only", () => Effect.gen(function*() {
      const missing = yield* admin.post(`/api/admin/dead-letters/${randomUUID()}/retry`)
      assert.deepStrictEqual([missing.status, missing.body.error], [404, "DEAD_LETTER_NOT_FOUND"])
      const malformed = yield* admin.post(`/api/admin/dead-letters/not%20an%20id/retry`)
      assert.strictEqual(malformed.status, 400)
      const ids = [] as Array<string>
      for (let i = 0; i < 3; i++) ids.push(yield* deadLetter({ op: "Deposit", accountId: uniqueId("nobody"), amount: 1, source: "PROMO", idempotencyKey: uniqueId("k") }, "ACCOUNT_NOT_FOUND"))
      const first = yield* admin.get("/api/admin/dead-letters?limit=2")
      assert.deepStrictEqual(first.body.items.map((l: { queueId: string }) => l.queueId), [ids[2], ids[1]])
      assert.isAtLeast(first.body.open, 3)
      const second = yield* admin.get(`/api/admin/dead-letters?limit=2&cursor=${first.body.nextCursor}`)
      assert.strictEqual(second.body.items[0].queueId, ids[0])
      assert.strictEqual((yield* anonymous.get("/api/admin/dead-letters")).status, 401)
    }))

    it.effect("a verification job reports progress and ends with the report; the synchronous route still answers", () => Effect.gen(function*() {
      yield* createAccount("verified", 10)
      const started = yield* admin.post("/api/admin/ledger/verifications", { body: { mode: "full" } })
      assert.strictEqual(started.status, 202)
      assert.containSubset(started.body, { mode: "full", status: "RUNNING" })
      const jobId = started.body.jobId as string
      const done = yield* eventuallyEffect(
        "the verification job to finish",
        Effect.map(admin.get(`/api/admin/ledger/verifications/${jobId}`), (job) => job.body.status === "RUNNING" ? undefined : job.body),
        { timeoutMs: 30_000, intervalMs: 50 }
      )
      assert.containSubset(done, { jobId, status: "DONE", error: null, report: { mode: "full", ok: true, totalBalance: 0 } })
      assert.strictEqual(done.progress.accountsChecked, done.report.accountsChecked)
      assert.strictEqual(done.progress.accountsTotal, done.progress.accountsChecked)
      assert.isAbove(done.progress.accountsChecked, 0)
      assert.strictEqual(done.progress.entriesChecked, done.report.entriesChecked)
      const listed = yield* admin.get("/api/admin/ledger/verifications")
      assert.strictEqual(listed.body.items[0].jobId, jobId)
      const sync = yield* admin.post("/api/admin/ledger/verify")
      assert.deepStrictEqual([sync.status, sync.body.ok], [200, true])
    }))

    it.effect("a verification job of one wallet; unknown wallet and unknown job are 404", () => Effect.gen(function*() {
      const accountId = yield* createAccount("onejob", 10)
      const started = yield* admin.post("/api/admin/ledger/verifications", { body: { accountId } })
      assert.strictEqual(started.status, 202)
      const done = yield* eventuallyEffect(
        "the account job",
        Effect.map(admin.get(`/api/admin/ledger/verifications/${started.body.jobId}`), (job) => job.body.status === "RUNNING" ? undefined : job.body),
        { timeoutMs: 30_000, intervalMs: 50 }
      )
      assert.containSubset(done, { mode: "account", accountId, status: "DONE", progress: { accountsTotal: 1, accountsChecked: 1, entriesChecked: 1 } })
      const unknown = yield* admin.post("/api/admin/ledger/verifications", { body: { accountId: uniqueId("ghost") } })
      assert.deepStrictEqual([unknown.status, unknown.body.error], [404, "ACCOUNT_NOT_FOUND"])
      const noJob = yield* admin.get(`/api/admin/ledger/verifications/${randomUUID()}`)
      assert.deepStrictEqual([noJob.status, noJob.body.error], [404, "VERIFICATION_JOB_NOT_FOUND"])
    }))

    it.effect("archive status says plainly that there is no history store", () => Effect.gen(function*() {
      const reply = yield* admin.get("/api/admin/archive")
      assert.strictEqual(reply.status, 200)
      assert.deepStrictEqual(Object.keys(reply.body).sort(), ["message", "state"])
      assert.strictEqual(reply.body.state, "NOT_CONFIGURED")
      assert.include(reply.body.message, "no history store")
    }))

    it.effect("the overview: store, queue, dead letters, last verification, archive and supply in one read", () => Effect.gen(function*() {
      yield* admin.post("/api/admin/ledger/verify")
      const reply = yield* admin.get("/api/admin/overview")
      assert.strictEqual(reply.status, 200)
      assert.containSubset(reply.body.store, { up: true, error: null })
      // The test server has no durable queue.
      assert.isNull(reply.body.creditQueue)
      assert.isAtLeast(reply.body.deadLetters.total, reply.body.deadLetters.open)
      assert.containSubset(reply.body.verification.last, { mode: "full", ok: true })
      assert.strictEqual(reply.body.archive.state, "NOT_CONFIGURED")
      assert.containSubset(reply.body.supply, { zeroSum: true })
    }))
  })

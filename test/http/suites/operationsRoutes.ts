import { randomUUID } from "node:crypto"
import { assert, describe, it } from "@effect/vitest"
import { appendDeadLetter } from "../../../src/degradation/CreditJournal.ts"
import { type DeadLetterRecord, deadLetterPath } from "../../../src/degradation/DeadLetters.ts"
import type { Command } from "../../../src/domain/commands.ts"
import { eventually } from "../../support/eventually.ts"
import type { SuiteContext } from "../support/httpApiSuite.ts"
import { execute, newAccount, uniqueId } from "../support/seed.ts"

export const operationsRoutes = ({ server, client }: SuiteContext) =>
  describe("admin operations routes", () => {
    /** A dead letter exactly as CreditQueue writes it after a refused replay. */
    const deadLetter = async (command: Command, error: string) => {
      const record: DeadLetterRecord = { id: randomUUID(), enqueuedAt: Date.now() - 60_000, deadLetteredAt: Date.now(), command, error, message: `${error} on replay` }
      await appendDeadLetter(deadLetterPath(server().dataDir), record)
      return record.id
    }
    const letter = async (id: string, status = "ALL") => {
      const reply = await client().admin.get(`/api/admin/dead-letters?status=${status}&limit=200`)
      assert.strictEqual(reply.status, 200)
      return reply.body.items.find((l: { queueId: string }) => l.queueId === id)
    }

    it("lists a dead-lettered cash-out; a retry refused again is 422 and recorded; once the stack is there, the retry applies it once", async () => {
      const accountId = await newAccount(server(), "dead", 500)
      const tableId = uniqueId("table")
      const idempotencyKey = uniqueId("cashout")
      const id = await deadLetter({ op: "CashOut", accountId, tableId, seatId: 1, amount: 100, idempotencyKey }, "INSUFFICIENT_STACK")

      assert.containSubset(await letter(id, "OPEN"), {
        queueId: id, op: "CashOut", accountId, tableId, amount: 100, idempotencyKey, error: "INSUFFICIENT_STACK", status: "OPEN", retries: []
      })
      const refused = await client().admin.post(`/api/admin/dead-letters/${id}/retry`)
      assert.deepStrictEqual([refused.status, refused.body.error], [422, "INSUFFICIENT_STACK"])
      assert.containSubset(await letter(id, "OPEN"), { status: "OPEN", retries: [{ outcome: "REFUSED", error: "INSUFFICIENT_STACK" }] })

      const r = await execute(server(), { op: "Reserve", accountId, tableId, amount: 100, timeoutMs: 600_000, idempotencyKey: uniqueId("r") })
      await execute(server(), { op: "Commit", reservationId: r.reservationId })
      const applied = await client().admin.post(`/api/admin/dead-letters/${id}/retry`)
      assert.strictEqual(applied.status, 200)
      assert.containSubset(applied.body.retry, { outcome: "APPLIED", result: { newBalance: 500 } })
      assert.strictEqual(applied.body.deadLetter.status, "RESOLVED")
      assert.strictEqual((await client().admin.get(`/api/accounts/${accountId}/balance`)).body.balance, 500)

      const again = await client().admin.post(`/api/admin/dead-letters/${id}/retry`)
      assert.deepStrictEqual([again.status, again.body.error], [409, "DEAD_LETTER_RESOLVED"])
      assert.isUndefined(await letter(id, "OPEN"))
      assert.containSubset(await letter(id, "RESOLVED"), { status: "RESOLVED", retries: [{ outcome: "REFUSED" }, { outcome: "APPLIED" }] })
    })

    it("a retry of a credit whose key was applied meanwhile answers the first result and moves nothing", async () => {
      const accountId = await newAccount(server(), "replayed", 0)
      const command = { op: "Deposit", accountId, amount: 250, source: "PROMO", idempotencyKey: uniqueId("dep") } as const
      const first = await execute(server(), command)
      const id = await deadLetter(command, "ACCOUNT_NOT_FOUND")
      const reply = await client().admin.post(`/api/admin/dead-letters/${id}/retry`)
      assert.strictEqual(reply.status, 200)
      assert.containSubset(reply.body.retry, { outcome: "REPLAYED", result: { transactionId: first.transactionId } })
      assert.strictEqual((await client().admin.get(`/api/accounts/${accountId}/balance`)).body.balance, 250)
    })

    it("dead letters: unknown id is 404, a malformed one 400, paging by cursor, admins only", async () => {
      const missing = await client().admin.post(`/api/admin/dead-letters/${randomUUID()}/retry`)
      assert.deepStrictEqual([missing.status, missing.body.error], [404, "DEAD_LETTER_NOT_FOUND"])
      const malformed = await client().admin.post(`/api/admin/dead-letters/not%20an%20id/retry`)
      assert.strictEqual(malformed.status, 400)
      const ids = [] as Array<string>
      for (let i = 0; i < 3; i++) ids.push(await deadLetter({ op: "Deposit", accountId: uniqueId("nobody"), amount: 1, source: "PROMO", idempotencyKey: uniqueId("k") }, "ACCOUNT_NOT_FOUND"))
      const first = await client().admin.get("/api/admin/dead-letters?limit=2")
      assert.deepStrictEqual(first.body.items.map((l: { queueId: string }) => l.queueId), [ids[2], ids[1]])
      assert.isAtLeast(first.body.open, 3)
      const second = await client().admin.get(`/api/admin/dead-letters?limit=2&cursor=${first.body.nextCursor}`)
      assert.strictEqual(second.body.items[0].queueId, ids[0])
      assert.strictEqual((await client().anonymous.get("/api/admin/dead-letters")).status, 401)
    })

    it("a verification job reports progress and ends with the report; the synchronous route still answers", async () => {
      await newAccount(server(), "verified", 10)
      const started = await client().admin.post("/api/admin/ledger/verifications", { body: { mode: "full" } })
      assert.strictEqual(started.status, 202)
      assert.containSubset(started.body, { mode: "full", status: "RUNNING" })
      const jobId = started.body.jobId as string
      const done = await eventually("the verification job to finish", async () => {
        const job = await client().admin.get(`/api/admin/ledger/verifications/${jobId}`)
        return job.body.status === "RUNNING" ? undefined : job.body
      }, { timeoutMs: 30_000, intervalMs: 50 })
      assert.containSubset(done, { jobId, status: "DONE", error: null, report: { mode: "full", ok: true, totalBalance: 0 } })
      assert.strictEqual(done.progress.accountsChecked, done.report.accountsChecked)
      assert.strictEqual(done.progress.accountsTotal, done.progress.accountsChecked)
      assert.isAbove(done.progress.accountsChecked, 0)
      assert.strictEqual(done.progress.entriesChecked, done.report.entriesChecked)
      const listed = await client().admin.get("/api/admin/ledger/verifications")
      assert.strictEqual(listed.body.items[0].jobId, jobId)
      const sync = await client().admin.post("/api/admin/ledger/verify")
      assert.deepStrictEqual([sync.status, sync.body.ok], [200, true])
    })

    it("a verification job of one wallet; unknown wallet and unknown job are 404", async () => {
      const accountId = await newAccount(server(), "onejob", 10)
      const started = await client().admin.post("/api/admin/ledger/verifications", { body: { accountId } })
      assert.strictEqual(started.status, 202)
      const done = await eventually("the account job", async () => {
        const job = await client().admin.get(`/api/admin/ledger/verifications/${started.body.jobId}`)
        return job.body.status === "RUNNING" ? undefined : job.body
      }, { timeoutMs: 30_000, intervalMs: 50 })
      assert.containSubset(done, { mode: "account", accountId, status: "DONE", progress: { accountsTotal: 1, accountsChecked: 1, entriesChecked: 1 } })
      const unknown = await client().admin.post("/api/admin/ledger/verifications", { body: { accountId: uniqueId("ghost") } })
      assert.deepStrictEqual([unknown.status, unknown.body.error], [404, "ACCOUNT_NOT_FOUND"])
      const noJob = await client().admin.get(`/api/admin/ledger/verifications/${randomUUID()}`)
      assert.deepStrictEqual([noJob.status, noJob.body.error], [404, "VERIFICATION_JOB_NOT_FOUND"])
    })

    it("archive status says plainly that there is no history store", async () => {
      const reply = await client().admin.get("/api/admin/archive")
      assert.strictEqual(reply.status, 200)
      assert.deepStrictEqual(Object.keys(reply.body).sort(), ["message", "state"])
      assert.strictEqual(reply.body.state, "NOT_CONFIGURED")
      assert.include(reply.body.message, "no history store")
    })

    it("the overview: store, queue, dead letters, last verification, archive and supply in one read", async () => {
      await client().admin.post("/api/admin/ledger/verify")
      const reply = await client().admin.get("/api/admin/overview")
      assert.strictEqual(reply.status, 200)
      assert.containSubset(reply.body.store, { up: true, error: null })
      // The test server has no durable queue.
      assert.isNull(reply.body.creditQueue)
      assert.isAtLeast(reply.body.deadLetters.total, reply.body.deadLetters.open)
      assert.containSubset(reply.body.verification.last, { mode: "full", ok: true })
      assert.strictEqual(reply.body.archive.state, "NOT_CONFIGURED")
      assert.containSubset(reply.body.supply, { zeroSum: true })
    })
  })

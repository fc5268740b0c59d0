import { Schema } from "effect"
import { HttpApiEndpoint, HttpApiGroup, OpenApi } from "effect/http-api"
import { BodyErrors, Conflict, InputErrors, NotFound, Unavailable, Unprocessable } from "./ApiErrors.ts"
import { AdminAuthentication } from "./auth/Authentication.ts"
import { RequireAdmin } from "./auth/RequireAdmin.ts"
import {
  BiggestMoversView,
  FlowsView,
  RakeByTableView,
  RangeQuery,
  ReservationOutcomesView,
  SeriesQuery,
  SupplySeriesView,
  TopQuery
} from "./schemas/EconomySchemas.ts"
import {
  AdminOverview,
  ArchiveStatusView,
  DeadLetterPage,
  DeadLetterParams,
  DeadLetterRetried,
  DeadLettersQuery,
  StartVerificationBody,
  VerificationJobList,
  VerificationJobParams,
  VerificationJobStarted,
  VerificationJobView
} from "./schemas/OperationsSchemas.ts"

const describe = (summary: string, description?: string) =>
  OpenApi.annotations(description === undefined ? { summary } : { summary, description })

/** What the admin console and CLI need beyond the lookups of AdminGroup: health, dead letters, verification jobs, archive. */
export class OperationsGroup extends HttpApiGroup.make("operations")
  .add(
    HttpApiEndpoint.get("overview", "/overview", { success: AdminOverview })
      .annotateMerge(describe("Store, credit queue, dead letters, last verification, archive and supply in one read"))
  )
  .add(
    HttpApiEndpoint.get("deadLetters", "/dead-letters", { query: DeadLettersQuery, success: DeadLetterPage, error: [...InputErrors, Unavailable] })
      .annotateMerge(describe("Credits this instance's queue could not apply on replay", "Read from DATA_DIR/credit-dead-letter.jsonl; each instance has its own."))
  )
  .add(
    HttpApiEndpoint.post("retryDeadLetter", "/dead-letters/:queueId/retry", {
      params: DeadLetterParams,
      success: DeadLetterRetried,
      error: [...InputErrors, NotFound, Conflict, Unprocessable, Unavailable]
    }).annotateMerge(describe(
      "Run a dead-lettered credit again, with its original idempotency key",
      "Through the same ledger path as any command: if the key was applied meanwhile, the first result comes back (REPLAYED) and nothing moves again. Refused again: 422 with the refusal, recorded with the letter. Already applied by a retry: 409 DEAD_LETTER_RESOLVED."
    ))
  )
  .add(
    HttpApiEndpoint.post("startVerification", "/ledger/verifications", {
      payload: [StartVerificationBody, Schema.Null],
      success: VerificationJobStarted,
      error: [...BodyErrors, NotFound, Conflict, Unavailable]
    }).annotateMerge(describe(
      "Start a verification pass in the background (202 with its job id)",
      "Poll GET /api/admin/ledger/verifications/{jobId} for progress and the final report. One job runs at a time per instance: 409 VERIFICATION_RUNNING names the running one."
    ))
  )
  .add(
    HttpApiEndpoint.get("verificationJobs", "/ledger/verifications", { success: VerificationJobList })
      .annotateMerge(describe("Verification jobs started on this instance, newest first"))
  )
  .add(
    HttpApiEndpoint.get("verificationJob", "/ledger/verifications/:jobId", {
      params: VerificationJobParams,
      success: VerificationJobView,
      error: [...InputErrors, NotFound]
    }).annotateMerge(describe("One verification job: progress (accounts checked of total, findings so far) and, once done, the report"))
  )
  .add(
    HttpApiEndpoint.get("archiveStatus", "/archive", { success: ArchiveStatusView, error: Unavailable })
      .annotateMerge(describe("The history store's state: lag, archived rows, continuity stops (NOT_CONFIGURED without one)"))
  )
  .prefix("/admin")
  .middleware(RequireAdmin)
  .middleware(AdminAuthentication)
{}

const economyNote =
  "Times are ISO 8601 (UTC); the range is [from, to), 24 hours up to now by default. `coverage` says what the figures were computed from and whether the whole range was covered."

/** The chip economy over time: each endpoint one query over the ledger's history (the EconomyHistory port). */
export class EconomyGroup extends HttpApiGroup.make("economy")
  .add(
    HttpApiEndpoint.get("supplySeries", "/supply", { query: SeriesQuery, success: SupplySeriesView, error: [...InputErrors, Unavailable] })
      .annotateMerge(describe("Supply and circulation by hour or day, with minted/burned/raked per bucket", economyNote))
  )
  .add(
    HttpApiEndpoint.get("flows", "/flows", { query: RangeQuery, success: FlowsView, error: [...InputErrors, Unavailable] })
      .annotateMerge(describe("Chips minted, burned, raked, and moved by transfer type over a range", economyNote))
  )
  .add(
    HttpApiEndpoint.get("rake", "/rake", { query: TopQuery, success: RakeByTableView, error: [...InputErrors, Unavailable] })
      .annotateMerge(describe("Rake per table over a range, most raked first", economyNote))
  )
  .add(
    HttpApiEndpoint.get("reservations", "/reservations", { query: RangeQuery, success: ReservationOutcomesView, error: [...InputErrors, Unavailable] })
      .annotateMerge(describe("Reservations created, committed, released and expired over a range, and the expiry rate", economyNote))
  )
  .add(
    HttpApiEndpoint.get("movers", "/movers", { query: TopQuery, success: BiggestMoversView, error: [...InputErrors, Unavailable] })
      .annotateMerge(describe("Wallets whose balance changed most over a range", economyNote))
  )
  .prefix("/admin/economy")
  .middleware(RequireAdmin)
  .middleware(AdminAuthentication)
{}

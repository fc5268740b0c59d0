import { Schema } from "effect"
import { HttpApiSchema } from "effect/http-api"
import { AccountId } from "../../../domain/ids.ts"
import { SupplyReport, VerificationReportView } from "./AdminSchemas.ts"
import { ChipCount, Cursor, IsoTimestamp, Limit, NextCursor } from "./CommonSchemas.ts"

// ---- dead-lettered credits -------------------------------------------------------------------

export const DeadLetterParams = {
  queueId: Schema.String.check(
    Schema.isPattern(/^[A-Za-z0-9-]{1,64}$/, { message: "queueId must be the id of a dead-lettered credit" })
  )
}

export const DeadLettersQuery = {
  status: Schema.optionalKey(Schema.Literals(["OPEN", "RESOLVED", "ALL"]).annotate({ description: "Default OPEN" })),
  cursor: Schema.optionalKey(Cursor),
  limit: Schema.optionalKey(Limit)
}

export const DeadLetterRetryView = Schema.Struct({
  at: IsoTimestamp,
  outcome: Schema.Literals(["APPLIED", "REPLAYED", "REFUSED"]).annotate({
    description: "APPLIED: moved chips now; REPLAYED: its idempotency key had already been applied (nothing moved again); REFUSED: refused again"
  }),
  error: Schema.optionalKey(Schema.String),
  message: Schema.optionalKey(Schema.String),
  result: Schema.optionalKey(Schema.Unknown.annotate({ description: "The command's response, as the API that queued it would have answered" }))
}).annotate({ identifier: "DeadLetterRetry" })

export const DeadLetterView = Schema.Struct({
  queueId: Schema.String,
  op: Schema.String.annotate({ description: "Deposit, Release, CashOut, Settle or Cancel" }),
  accountId: Schema.NullOr(Schema.String),
  tableId: Schema.NullOr(Schema.String),
  amount: Schema.NullOr(ChipCount),
  idempotencyKey: Schema.NullOr(Schema.String).annotate({ description: "The original key; a retry uses it again" }),
  command: Schema.Record(Schema.String, Schema.Unknown).annotate({ description: "The queued command, as accepted" }),
  enqueuedAt: IsoTimestamp,
  deadLetteredAt: Schema.NullOr(IsoTimestamp),
  error: Schema.String.annotate({ description: "The refusal code met on replay" }),
  message: Schema.String,
  status: Schema.Literals(["OPEN", "RESOLVED"]),
  retries: Schema.Array(DeadLetterRetryView)
}).annotate({ identifier: "DeadLetter" })

export const DeadLetterPage = Schema.Struct({
  items: Schema.Array(DeadLetterView),
  nextCursor: NextCursor,
  open: Schema.Int.annotate({ description: "OPEN dead letters on this instance, whatever the filter" })
}).annotate({
  identifier: "DeadLetterPage",
  description: "Credits this instance's durable queue could not apply on replay, newest first"
})

export const DeadLetterRetried = Schema.Struct({
  deadLetter: DeadLetterView,
  retry: DeadLetterRetryView
}).annotate({ identifier: "DeadLetterRetried" })

// ---- verification jobs -----------------------------------------------------------------------

export const StartVerificationBody = Schema.Struct({
  accountId: Schema.optionalKey(AccountId.annotate({ description: "Verify only this wallet's chain" })),
  mode: Schema.optionalKey(Schema.Literals(["full", "incremental"]).annotate({ description: "Whole ledger: full (default) or incremental" }))
}).annotate({ identifier: "StartVerificationBody" })

export const VerificationJobParams = {
  jobId: Schema.String.check(Schema.isPattern(/^[A-Za-z0-9-]{1,64}$/, { message: "jobId must be the id returned when the job started" }))
}

const FindingView = Schema.Struct({ account: Schema.String, seq: Schema.NullOr(Schema.Int), kind: Schema.String, detail: Schema.String })

export const VerificationJobView = Schema.Struct({
  jobId: Schema.String,
  mode: Schema.Literals(["full", "incremental", "account"]),
  accountId: Schema.optionalKey(Schema.String),
  status: Schema.Literals(["RUNNING", "DONE", "FAILED"]),
  startedAt: IsoTimestamp,
  finishedAt: Schema.NullOr(IsoTimestamp),
  progress: Schema.Struct({
    accountsTotal: Schema.Int.annotate({ description: "Accounts the pass lists (grows if accounts are created meanwhile)" }),
    accountsChecked: Schema.Int,
    entriesChecked: Schema.Int,
    findingsCount: Schema.Int,
    findings: Schema.Array(FindingView).annotate({ description: "The first 100 findings so far" })
  }),
  report: Schema.NullOr(VerificationReportView).annotate({ description: "The final report, once DONE" }),
  error: Schema.NullOr(Schema.String).annotate({ description: "Why a FAILED job stopped" })
}).annotate({ identifier: "VerificationJob" })

export const VerificationJobStarted = VerificationJobView.pipe(HttpApiSchema.status(202))

export const VerificationJobList = Schema.Struct({ items: Schema.Array(VerificationJobView) })
  .annotate({ identifier: "VerificationJobList", description: "Jobs started on this instance, newest first (the last 20)" })

// ---- archive and overview --------------------------------------------------------------------

export const ArchiveStatusView = Schema.Union([
  Schema.Struct({
    state: Schema.Literal("NOT_CONFIGURED"),
    message: Schema.String
  }),
  Schema.Struct({
    state: Schema.Literals(["ACTIVE", "LAGGING", "STOPPED"]),
    database: Schema.Literals(["embedded", "external"]),
    lagEntries: Schema.Int,
    lagSeconds: Schema.Number,
    archivedEntries: Schema.Int,
    archivedTransfers: Schema.Int,
    lastBatchAt: Schema.NullOr(IsoTimestamp),
    leader: Schema.NullOr(Schema.Struct({ owner: Schema.String, fencingToken: Schema.Int })).annotate({
      description: "The instance holding the archiver lease (its owner id and fencing token); null when none does"
    }),
    continuityStops: Schema.Array(Schema.Struct({ account: Schema.String, detail: Schema.String })),
    message: Schema.String
  })
]).annotate({
  identifier: "ArchiveStatus",
  description: "The PostgreSQL history store's state; NOT_CONFIGURED when this service keeps the whole ledger in Redis"
})

export const AdminOverview = Schema.Struct({
  store: Schema.Struct({
    up: Schema.Boolean,
    latencyMs: Schema.NullOr(Schema.Number).annotate({ description: "One ping's round trip" }),
    error: Schema.NullOr(Schema.String)
  }),
  creditQueue: Schema.NullOr(Schema.Struct({
    pending: Schema.Int.annotate({ description: "Credits accepted during an outage and not yet applied" }),
    queued: Schema.Int,
    replayed: Schema.Int,
    deadLettered: Schema.Int
  })).annotate({ description: "This instance's durable credit queue (counters since it started); null without one" }),
  deadLetters: Schema.Struct({ open: Schema.Int, total: Schema.Int }),
  verification: Schema.Struct({
    last: Schema.NullOr(VerificationReportView).annotate({ description: "The last pass this instance ran (scheduled or asked for)" }),
    runningJobId: Schema.NullOr(Schema.String)
  }),
  archive: Schema.NullOr(ArchiveStatusView).annotate({ description: "null when its status could not be read" }),
  supply: Schema.NullOr(SupplyReport).annotate({ description: "null while the store does not answer" })
}).annotate({
  identifier: "AdminOverview",
  description: "Everything the console's overview page shows, in one read"
})

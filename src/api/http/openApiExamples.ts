import { Schema } from "effect"
import {
  AccountCreated,
  Balance,
  DepositBody,
  EnsureAccountBody,
  LedgerPage,
  ReservationList,
  TransactionPage,
  WalletMovement,
  WithdrawBody
} from "./schemas/AccountSchemas.ts"
import {
  AccountList,
  PotView,
  SupplyReport,
  TableStacks,
  TransferEventPage,
  VerificationReportView,
  VerifyBody
} from "./schemas/AdminSchemas.ts"
import { ReservationView } from "./schemas/CommonSchemas.ts"
import {
  BiggestMoversView,
  FlowsView,
  RakeByTableView,
  ReservationOutcomesView,
  SupplySeriesView
} from "./schemas/EconomySchemas.ts"
import {
  AdminOverview,
  ArchiveStatusView,
  DeadLetterPage,
  DeadLetterRetried,
  StartVerificationBody,
  VerificationJobList,
  VerificationJobView
} from "./schemas/OperationsSchemas.ts"

/** A value of a schema, type-checked against it here and encoded (and so validated) when the document is built. */
export interface Example {
  readonly schema: Schema.Top
  readonly value: unknown
}

const example = <S extends Schema.Top>(schema: S, value: S["Type"]): Example => ({ schema, value })

/** The JSON an example stands for; throws (failing the document) when the value does not fit its schema. */
export const encodeExample = (e: Example): unknown =>
  Schema.encodeUnknownSync(e.schema as Schema.Codec<unknown, unknown>)(e.value)

export interface OperationExamples {
  readonly request?: Example
  /** The main success response: its status and body. */
  readonly response: { readonly status: number; readonly body: Example }
}

const at = "2025-06-01T18:30:00.000Z"
const later = "2025-06-01T18:30:30.000Z"
const transactionId = "5f0c1c8e-8a4e-4d0b-9b7e-2f1d3c4b5a69"
const reservationId = "0d6c3b7a-2e1f-4a5b-8c9d-7e6f5a4b3c2d"

const reservation = {
  reservationId,
  accountId: "alice",
  tableId: "table-7",
  amount: 500,
  status: "COMMITTED" as const,
  createdAt: at,
  expiresAt: later,
  closedAt: "2025-06-01T18:30:02.000Z",
  transactionId
}

const verificationReport: typeof VerificationReportView.Type = {
  mode: "full",
  startedAt: at,
  finishedAt: "2025-06-01T18:30:00.412Z",
  accountsChecked: 1280,
  entriesChecked: 48211,
  totalBalance: 0,
  ok: true,
  findings: []
}

const supply: typeof SupplyReport.Type = {
  minted: 2700,
  burned: 100,
  raked: 10,
  circulation: 2590,
  held: 100,
  byType: { GRANT: 2500, DEPOSIT: 200, WITHDRAW: 100, BUY_IN: 900, RAKE: 10 },
  system: { mint: -2700, burn: 100, rake: 10 },
  zeroSum: true,
  lastVerification: { finishedAt: at, ok: true, totalBalance: 0 }
}

const buyIn = {
  transactionId,
  type: "BUY_IN" as const,
  from: "w:alice",
  to: "s:table-7:alice",
  amount: 500,
  parent: reservationId,
  metadata: { reservationId },
  timestamp: "2025-06-01T18:30:02.000Z"
}

/**
 * One request (where there is a body) and one response example per
 * operation, keyed by operationId. Each value is checked against its schema
 * by the compiler and encoded through it when /api/openapi.json is built.
 */
export const OPERATION_EXAMPLES: Readonly<Record<string, OperationExamples>> = {
  "health.health": { response: { status: 200, body: example(Schema.Struct({ status: Schema.Literal("ok") }), { status: "ok" }) } },
  "health.ready": {
    response: { status: 200, body: example(Schema.Struct({ status: Schema.Literal("ready") }), { status: "ready" }) }
  },
  "accounts.balance": {
    response: {
      status: 200,
      body: example(Balance, {
        accountId: "alice",
        balance: 1500,
        availableBalance: 1000,
        held: 500,
        currency: "CHIPS",
        version: 7,
        stale: false
      })
    }
  },
  "accounts.transactions": {
    response: {
      status: 200,
      body: example(TransactionPage, {
        accountId: "alice",
        items: [{
          transactionId,
          type: "BUY_IN",
          direction: "DEBIT",
          amount: 500,
          from: "w:alice",
          to: "s:table-7:alice",
          metadata: { reservationId },
          timestamp: buyIn.timestamp
        }],
        nextCursor: null
      })
    }
  },
  "accounts.ledger": {
    response: {
      status: 200,
      body: example(LedgerPage, {
        accountId: "alice",
        items: [{
          seq: 3,
          entryId: "w:alice#3",
          transferId: transactionId,
          type: "BUY_IN",
          amount: -500,
          balanceBefore: 1500,
          balanceAfter: 1000,
          heldDelta: -500,
          heldAfter: 0,
          parent: reservationId,
          metadata: { reservationId },
          timestamp: buyIn.timestamp,
          previousChecksum: "9b1f0d2c4e6a8b0d2f4a6c8e0b2d4f6a8c0e2b4d6f8a0c2e4b6d8f0a2c4e6b8d",
          checksum: "3c5e7a9b1d3f5a7c9e1b3d5f7a9c1e3b5d7f9a1c3e5b7d9f1a3c5e7b9d1f3a5c"
        }],
        nextCursor: "3"
      })
    }
  },
  "accounts.reservations": {
    response: { status: 200, body: example(ReservationList, { accountId: "alice", held: 0, items: [reservation] }) }
  },
  "walletAdmin.ensureAccount": {
    request: example(EnsureAccountBody, { initialBalance: 1000 }),
    response: { status: 201, body: example(AccountCreated, { accountId: "alice", balance: 1000, created: true }) }
  },
  "walletAdmin.deposit": {
    request: example(DepositBody, { amount: 250, source: "PURCHASE" }),
    response: {
      status: 200,
      body: example(WalletMovement, { transactionId, accountId: "alice", amount: 250, balance: 1250, availableBalance: 1250 })
    }
  },
  "walletAdmin.withdraw": {
    request: example(WithdrawBody, { amount: 100, reason: "cash-out to the payment provider" }),
    response: {
      status: 200,
      body: example(WalletMovement, { transactionId, accountId: "alice", amount: 100, balance: 1150, availableBalance: 1150 })
    }
  },
  "admin.listAccounts": {
    response: {
      status: 200,
      body: example(AccountList, {
        items: [{ accountId: "alice", balance: 1000, held: 0, availableBalance: 1000, version: 4, createdAt: at }],
        nextCursor: "YWxpY2U"
      })
    }
  },
  "admin.reservation": { response: { status: 200, body: example(ReservationView, reservation) } },
  "admin.tableStacks": {
    response: {
      status: 200,
      body: example(TableStacks, {
        tableId: "table-7",
        total: 900,
        items: [{ accountId: "alice", balance: 500, version: 2 }, { accountId: "bob", balance: 400, version: 2 }]
      })
    }
  },
  "admin.pot": {
    response: {
      status: 200,
      body: example(PotView, {
        tableId: "table-7",
        handId: "hand-42",
        status: "ACTIVE",
        balance: 300,
        contributions: [{ seatId: 1, accountId: "alice", amount: 200 }, { seatId: 2, accountId: "bob", amount: 100 }],
        pots: [{ amount: 200, eligibleSeats: [1, 2] }, { amount: 100, eligibleSeats: [1] }],
        version: 3,
        createdAt: at
      })
    }
  },
  "admin.transfers": {
    response: {
      status: 200,
      body: example(TransferEventPage, {
        items: [{ eventId: "1748802602000-0", timestamp: buyIn.timestamp, transfers: [buyIn] }],
        nextCursor: null
      })
    }
  },
  "admin.verify": {
    request: example(VerifyBody, { mode: "full" }),
    response: {
      status: 200,
      body: example(VerificationReportView, verificationReport)
    }
  },
  "admin.supply": {
    response: {
      status: 200,
      body: example(SupplyReport, supply)
    }
  },
  ...consoleRouteExamples()
}

/** The admin console's and CLI's routes (operations and economy groups). */
function consoleRouteExamples(): Readonly<Record<string, OperationExamples>> {
  const report = verificationReport
  const job = {
    jobId: "3d9b8c1e-0f4a-4e7b-a2c5-77e0d1f2a9b3",
    mode: "full" as const,
    status: "DONE" as const,
    startedAt: at,
    finishedAt: report.finishedAt,
    progress: { accountsTotal: 1280, accountsChecked: 1280, entriesChecked: 48211, findingsCount: 0, findings: [] },
    report,
    error: null
  }
  const deadLetter = {
    queueId: "6f1c2a7e-4b1d-4c55-9d0e-0b8f3e1a2c44",
    op: "CashOut",
    accountId: "alice",
    tableId: "table-7",
    amount: 700,
    idempotencyKey: "cashout-alice-table-7",
    command: { op: "CashOut", accountId: "alice", tableId: "table-7", seatId: 2, amount: 700, idempotencyKey: "cashout-alice-table-7" },
    enqueuedAt: at,
    deadLetteredAt: later,
    error: "INSUFFICIENT_STACK",
    message: "stack table-7/alice holds 0, not 700",
    status: "OPEN" as const,
    retries: []
  }
  const applied = { at: later, outcome: "APPLIED" as const, result: { transactionId, newBalance: 1200 } }
  const archive = {
    state: "NOT_CONFIGURED" as const,
    message: "no history store: this service keeps the whole ledger in Redis (the event stream is capped by REDIS_EVENTS_MAXLEN)"
  }
  const from = "2025-06-01T00:00:00.000Z", to = "2025-06-01T02:00:00.000Z", hour = "2025-06-01T01:00:00.000Z"
  const coverage = { source: "archive+live-tail" as const, historyFrom: null, complete: true, archivedThrough: "2025-06-01T01:59:58.120Z", eventsScanned: 37 }
  return {
    "operations.overview": {
      response: {
        status: 200,
        body: example(AdminOverview, {
          store: { up: true, latencyMs: 0.4, error: null },
          creditQueue: { pending: 0, queued: 0, replayed: 0, deadLettered: 0 },
          deadLetters: { open: 0, total: 0 },
          verification: { last: report, runningJobId: null },
          archive,
          supply
        })
      }
    },
    "operations.deadLetters": { response: { status: 200, body: example(DeadLetterPage, { items: [deadLetter], nextCursor: null, open: 1 }) } },
    "operations.retryDeadLetter": {
      response: { status: 200, body: example(DeadLetterRetried, { deadLetter: { ...deadLetter, status: "RESOLVED", retries: [applied] }, retry: applied }) }
    },
    "operations.startVerification": {
      request: example(StartVerificationBody, { mode: "full" }),
      response: {
        status: 202,
        body: example(VerificationJobView, {
          ...job, status: "RUNNING", finishedAt: null, report: null,
          progress: { accountsTotal: 1280, accountsChecked: 0, entriesChecked: 0, findingsCount: 0, findings: [] }
        })
      }
    },
    "operations.verificationJobs": { response: { status: 200, body: example(VerificationJobList, { items: [job] }) } },
    "operations.verificationJob": { response: { status: 200, body: example(VerificationJobView, job) } },
    "operations.archiveStatus": { response: { status: 200, body: example(ArchiveStatusView, archive) } },
    "economy.supplySeries": {
      response: {
        status: 200,
        body: example(SupplySeriesView, {
          from, to, bucket: "hour", coverage,
          points: [
            { start: from, end: hour, supply: 120000, circulation: 119900, minted: 20000, burned: 0, raked: 100, moved: 64000, transfers: 812, partial: false },
            { start: hour, end: to, supply: 118000, circulation: 117860, minted: 0, burned: 2000, raked: 40, moved: 31000, transfers: 405, partial: false }
          ]
        })
      }
    },
    "economy.flows": {
      response: {
        status: 200,
        body: example(FlowsView, {
          from, to, coverage, minted: 20000, burned: 2000, raked: 140, moved: 95000, transfers: 1217,
          byType: {
            GRANT: { chips: 10000, transfers: 10 }, DEPOSIT: { chips: 10000, transfers: 4 }, WITHDRAW: { chips: 2000, transfers: 1 },
            BUY_IN: { chips: 15000, transfers: 30 }, CONTRIBUTION: { chips: 24000, transfers: 600 }, RAKE: { chips: 140, transfers: 70 },
            PAYOUT: { chips: 23860, transfers: 80 }, REFUND: { chips: 0, transfers: 0 }, CASH_OUT: { chips: 10000, transfers: 22 }
          }
        })
      }
    },
    "economy.rake": {
      response: {
        status: 200,
        body: example(RakeByTableView, {
          from, to, coverage, total: 140,
          tables: [{ tableId: "table-7", raked: 90, handsSettled: 45, potChips: 18000 }, { tableId: "table-9", raked: 50, handsSettled: 25, potChips: 6000 }]
        })
      }
    },
    "economy.reservations": {
      response: {
        status: 200,
        body: example(ReservationOutcomesView, {
          from, to, coverage, created: 40, committed: 30, released: 6, expired: 2, expiryRate: 0.0526, chipsHeld: 20000, chipsCommitted: 15000
        })
      }
    },
    "economy.movers": {
      response: {
        status: 200,
        body: example(BiggestMoversView, { from, to, coverage, items: [{ accountId: "alice", net: 4200, credits: 9200, debits: 5000, entries: 14 }] })
      }
    }
  }
}

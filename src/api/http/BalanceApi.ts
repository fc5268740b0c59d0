import { Schema } from "effect"
import { HttpApi, HttpApiEndpoint, HttpApiGroup, OpenApi } from "effect/http-api"
import { Conflict, NotFound, Unavailable, Unprocessable } from "./ApiErrors.ts"
import { AccountAccess } from "./auth/AccountAccess.ts"
import { Authentication } from "./auth/Authentication.ts"
import { RequireAdmin } from "./auth/RequireAdmin.ts"
import { ErrorEnvelope } from "./ErrorEnvelope.ts"
import { EconomyGroup, OperationsGroup } from "./OperationsGroups.ts"
import {
  QueuedCredit,
  AccountCreated,
  AccountExisted,
  AccountParams,
  Balance,
  DepositBody,
  EnsureAccountBody,
  IdempotencyHeaders,
  LedgerPage,
  LedgerQuery,
  ReservationList,
  ReservationsQuery,
  TransactionPage,
  TransactionsQuery,
  WalletMovementResponse,
  WithdrawBody
} from "./schemas/AccountSchemas.ts"
import {
  AccountList,
  AccountsQuery,
  PotParams,
  PotQuery,
  PotView,
  ReservationParams,
  SupplyReport,
  TableParams,
  TableStacks,
  TransferEventPage,
  TransfersQuery,
  VerificationReportView,
  VerifyBody
} from "./schemas/AdminSchemas.ts"
import { ReservationView } from "./schemas/CommonSchemas.ts"

const describe = (summary: string) => OpenApi.annotations({ summary })

export class HealthGroup extends HttpApiGroup.make("health")
  .add(
    HttpApiEndpoint.get("health", "/health", { success: Schema.Struct({ status: Schema.Literal("ok") }) })
      .annotateMerge(describe("Liveness: the process answers"))
  )
  .add(
    HttpApiEndpoint.get("ready", "/ready", {
      success: Schema.Struct({ status: Schema.Literal("ready") }),
      error: Unavailable
    }).annotateMerge(describe("Readiness: 200 only while the store answers"))
  )
{}

/**
 * A player reaches only the account named by their token's `sub`; admins reach
 * every account. Creating accounts and moving chips in or out is admin-only.
 * Middleware order matters: later `.middleware` calls wrap earlier ones, so
 * Authentication runs first and provides the Principal the others check.
 */
export class AccountsGroup extends HttpApiGroup.make("accounts")
  .add(
    HttpApiEndpoint.post("ensureAccount", "/accounts/:accountId", {
      params: AccountParams,
      payload: [EnsureAccountBody, Schema.Null],
      success: [AccountCreated, AccountExisted],
      error: [Unprocessable, Unavailable, Conflict]
    }).middleware(RequireAdmin).annotateMerge(describe("Create a wallet once (admin); 201 created, 200 when it existed"))
  )
  .add(
    HttpApiEndpoint.get("balance", "/accounts/:accountId/balance", {
      params: AccountParams,
      success: Balance,
      error: [NotFound, Unavailable]
    }).annotateMerge(describe("Balance, available balance and held chips"))
  )
  .add(
    HttpApiEndpoint.post("deposit", "/accounts/:accountId/deposit", {
      params: AccountParams,
      headers: IdempotencyHeaders,
      payload: DepositBody,
      success: [WalletMovementResponse, QueuedCredit],
      error: [NotFound, Conflict, Unprocessable, Unavailable]
    }).middleware(RequireAdmin).annotateMerge(describe("Mint chips into a wallet (admin, idempotent)"))
  )
  .add(
    HttpApiEndpoint.post("withdraw", "/accounts/:accountId/withdraw", {
      params: AccountParams,
      headers: IdempotencyHeaders,
      payload: WithdrawBody,
      success: WalletMovementResponse,
      error: [NotFound, Conflict, Unprocessable, Unavailable]
    }).middleware(RequireAdmin).annotateMerge(describe("Burn chips from a wallet's available balance (admin, idempotent)"))
  )
  .add(
    HttpApiEndpoint.get("transactions", "/accounts/:accountId/transactions", {
      params: AccountParams,
      query: TransactionsQuery,
      success: TransactionPage,
      error: [NotFound, Unavailable]
    }).annotateMerge(describe("The wallet's transfers, newest first"))
  )
  .add(
    HttpApiEndpoint.get("ledger", "/accounts/:accountId/ledger", {
      params: AccountParams,
      query: LedgerQuery,
      success: LedgerPage,
      error: [NotFound, Unavailable]
    }).annotateMerge(describe("The wallet's hash-chained ledger entries by seq"))
  )
  .add(
    HttpApiEndpoint.get("reservations", "/accounts/:accountId/reservations", {
      params: AccountParams,
      query: ReservationsQuery,
      success: ReservationList,
      error: [NotFound, Unavailable]
    }).annotateMerge(describe("Held and recent buy-in reservations"))
  )
  .middleware(AccountAccess)
  .middleware(Authentication)
{}

export class AdminGroup extends HttpApiGroup.make("admin")
  .add(
    HttpApiEndpoint.get("listAccounts", "/accounts", {
      query: AccountsQuery,
      success: AccountList,
      error: Unavailable
    }).annotateMerge(describe("Wallets in id order, optionally by id prefix"))
  )
  .add(
    HttpApiEndpoint.get("reservation", "/reservations/:reservationId", {
      params: ReservationParams,
      success: ReservationView,
      error: [NotFound, Unavailable]
    }).annotateMerge(describe("One reservation"))
  )
  .add(
    HttpApiEndpoint.get("tableStacks", "/tables/:tableId/stacks", {
      params: TableParams,
      success: TableStacks,
      error: Unavailable
    }).annotateMerge(describe("Every player's stack at a table"))
  )
  .add(
    HttpApiEndpoint.get("pot", "/tables/:tableId/hands/:handId/pot", {
      params: PotParams,
      query: PotQuery,
      success: PotView,
      error: [NotFound, Unavailable]
    }).annotateMerge(describe("One pot with its contributions and main/side pots"))
  )
  .add(
    HttpApiEndpoint.get("transfers", "/transfers", {
      query: TransfersQuery,
      success: TransferEventPage,
      error: Unavailable
    }).annotateMerge(describe("Recent transfers across all accounts, newest first"))
  )
  .add(
    HttpApiEndpoint.post("verify", "/ledger/verify", {
      payload: [VerifyBody, Schema.Null],
      success: VerificationReportView,
      error: [NotFound, Unavailable]
    }).annotateMerge(describe("Verify every hash chain and the zero sum, or one wallet's chain"))
  )
  .add(
    HttpApiEndpoint.get("supply", "/supply", { success: SupplyReport, error: Unavailable })
      .annotateMerge(describe("Chips minted, burned, raked, in circulation and held"))
  )
  .prefix("/admin")
  .middleware(RequireAdmin)
  .middleware(Authentication)
{}

const Description = `Chip ledger of the play-money poker platform. Amounts are integer chips.

Players send \`Authorization: Bearer <JWT>\` and reach only their own account (\`sub\` = accountId).
Admins send a JWT whose \`roles\`/\`role\` contains \`admin\`, or \`X-Admin-Key\`.

Every error is \`{ "error": "CODE", "message": "…", "details": … }\`.`

export class BalanceApi extends HttpApi.make("balance-service")
  .add(HealthGroup, AccountsGroup, AdminGroup, OperationsGroup, EconomyGroup)
  .prefix("/api")
  .middleware(ErrorEnvelope)
  // Every issue at once; unknown body fields are refused. Headers keep Schema's
  // defaults: real requests carry many undeclared transport headers.
  .annotate(HttpApi.ParseOptions, { errors: "all" })
  .annotate(HttpApi.PayloadParseOptions, { errors: "all", onExcessProperty: "error" })
  .annotate(HttpApi.HeadersParseOptions, { errors: "all" })
  .annotateMerge(OpenApi.annotations({ title: "balance-service", version: "1.0.0", description: Description }))
{}

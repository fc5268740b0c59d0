import { Schema } from "effect"
import { HttpApi, HttpApiEndpoint, HttpApiGroup, OpenApi } from "effect/http-api"
import { BodyErrors, Conflict, InputErrors, NotFound, Unavailable, Unprocessable } from "./ApiErrors.ts"
import { AccountAccess } from "./auth/AccountAccess.ts"
import { AdminAuthentication, Authentication } from "./auth/Authentication.ts"
import { RequireAdmin } from "./auth/RequireAdmin.ts"
import { SERVICE_VERSION } from "../../buildInfo.ts"
import { ErrorEnvelope } from "./ErrorEnvelope.ts"
import { EconomyGroup, OperationsGroup } from "./OperationsGroups.ts"
import { finishDocument } from "./openApiDocument.ts"
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
    }).annotateMerge(describe("Readiness: 200 only while every listener (HTTP, gRPC, metrics) accepts connections and the store answers"))
  )
{}

/**
 * A player reaches only the account named by their token's `sub`; admins reach
 * every account. Middleware order matters: later `.middleware` calls wrap
 * earlier ones, so Authentication runs first and provides the Principal the
 * others check.
 */
export class AccountsGroup extends HttpApiGroup.make("accounts")
  .add(
    HttpApiEndpoint.get("balance", "/accounts/:accountId/balance", {
      params: AccountParams,
      success: Balance,
      error: [...InputErrors, NotFound, Unavailable]
    }).annotateMerge(describe("Balance, available balance and held chips"))
  )
  .add(
    HttpApiEndpoint.get("transactions", "/accounts/:accountId/transactions", {
      params: AccountParams,
      query: TransactionsQuery,
      success: TransactionPage,
      error: [...InputErrors, NotFound, Unavailable]
    }).annotateMerge(describe("The wallet's transfers, newest first"))
  )
  .add(
    HttpApiEndpoint.get("ledger", "/accounts/:accountId/ledger", {
      params: AccountParams,
      query: LedgerQuery,
      success: LedgerPage,
      error: [...InputErrors, NotFound, Unavailable]
    }).annotateMerge(describe("The wallet's hash-chained ledger entries by seq"))
  )
  .add(
    HttpApiEndpoint.get("reservations", "/accounts/:accountId/reservations", {
      params: AccountParams,
      query: ReservationsQuery,
      success: ReservationList,
      error: [...InputErrors, NotFound, Unavailable]
    }).annotateMerge(describe("Held and recent buy-in reservations"))
  )
  .middleware(AccountAccess)
  .middleware(Authentication)
{}

/** Creating wallets and moving chips in or out of the platform: admins only. */
export class WalletAdminGroup extends HttpApiGroup.make("walletAdmin")
  .add(
    HttpApiEndpoint.post("ensureAccount", "/accounts/:accountId", {
      params: AccountParams,
      payload: [EnsureAccountBody, Schema.Null],
      success: [AccountCreated, AccountExisted],
      error: [...BodyErrors, Unprocessable, Unavailable, Conflict]
    }).annotateMerge(describe("Create a wallet once (admin); 201 created, 200 when it existed"))
  )
  .add(
    HttpApiEndpoint.post("deposit", "/accounts/:accountId/deposit", {
      params: AccountParams,
      headers: IdempotencyHeaders,
      payload: DepositBody,
      success: [WalletMovementResponse, QueuedCredit],
      error: [...BodyErrors, NotFound, Conflict, Unprocessable, Unavailable]
    }).annotateMerge(describe("Mint chips into a wallet (admin, idempotent)"))
  )
  .add(
    HttpApiEndpoint.post("withdraw", "/accounts/:accountId/withdraw", {
      params: AccountParams,
      headers: IdempotencyHeaders,
      payload: WithdrawBody,
      success: WalletMovementResponse,
      error: [...BodyErrors, NotFound, Conflict, Unprocessable, Unavailable]
    }).annotateMerge(describe("Burn chips from a wallet's available balance (admin, idempotent)"))
  )
  .middleware(RequireAdmin)
  .middleware(AdminAuthentication)
  .annotateMerge(OpenApi.annotations({ title: "wallet admin" }))
{}

export class AdminGroup extends HttpApiGroup.make("admin")
  .add(
    HttpApiEndpoint.get("listAccounts", "/accounts", {
      query: AccountsQuery,
      success: AccountList,
      error: [...InputErrors, Unavailable]
    }).annotateMerge(describe("Wallets in id order, optionally by id prefix"))
  )
  .add(
    HttpApiEndpoint.get("reservation", "/reservations/:reservationId", {
      params: ReservationParams,
      success: ReservationView,
      error: [...InputErrors, NotFound, Unavailable]
    }).annotateMerge(describe("One reservation"))
  )
  .add(
    HttpApiEndpoint.get("tableStacks", "/tables/:tableId/stacks", {
      params: TableParams,
      success: TableStacks,
      error: [...InputErrors, Unavailable]
    }).annotateMerge(describe("Every player's stack at a table"))
  )
  .add(
    HttpApiEndpoint.get("pot", "/tables/:tableId/hands/:handId/pot", {
      params: PotParams,
      query: PotQuery,
      success: PotView,
      error: [...InputErrors, NotFound, Unavailable]
    }).annotateMerge(describe("One pot with its contributions and main/side pots"))
  )
  .add(
    HttpApiEndpoint.get("transfers", "/transfers", {
      query: TransfersQuery,
      success: TransferEventPage,
      error: [...InputErrors, Unavailable]
    }).annotateMerge(describe("Recent transfers across all accounts, newest first"))
  )
  .add(
    HttpApiEndpoint.post("verify", "/ledger/verify", {
      payload: [VerifyBody, Schema.Null],
      success: VerificationReportView,
      error: [...BodyErrors, NotFound, Unavailable]
    }).annotateMerge(describe("Verify every hash chain and the zero sum, or one wallet's chain"))
  )
  .add(
    HttpApiEndpoint.get("supply", "/supply", { success: SupplyReport, error: Unavailable })
      .annotateMerge(describe("Chips minted, burned, raked, in circulation and held"))
  )
  .prefix("/admin")
  .middleware(RequireAdmin)
  .middleware(AdminAuthentication)
{}

const Description = `Chip ledger of the play-money poker platform. Amounts are integer chips.

Players send \`Authorization: Bearer <JWT>\` and reach only their own account (\`sub\` = accountId):
the routes of the \`accounts\` tag (security \`bearer\` or an admin scheme). Admins send a JWT whose
\`roles\`/\`role\` contains \`admin\` (\`adminBearer\`), or \`X-Admin-Key\` (\`adminKey\`); the
\`wallet admin\` and \`admin\` routes take only these.

Every error is \`{ "error": "CODE", "message": "…", "details": … }\`; each status lists the codes it can carry.
A 503 carries \`Retry-After\` (seconds).`

export class BalanceApi extends HttpApi.make("balance-service")
  .add(HealthGroup, AccountsGroup, WalletAdminGroup, AdminGroup, OperationsGroup, EconomyGroup)
  .prefix("/api")
  .middleware(ErrorEnvelope)
  // Every issue at once; unknown body fields are refused. Headers keep Schema's
  // defaults: real requests carry many undeclared transport headers.
  .annotate(HttpApi.ParseOptions, { errors: "all" })
  .annotate(HttpApi.PayloadParseOptions, { errors: "all", onExcessProperty: "error" })
  .annotate(HttpApi.HeadersParseOptions, { errors: "all" })
  .annotateMerge(OpenApi.annotations({
    title: "balance-service",
    version: SERVICE_VERSION,
    description: Description,
    transform: finishDocument
  }))
{}

/**
 * @balance/client: the poker game's client of balance-service (Promise API).
 * The Effect API is `@balance/client/effect`.
 */
export { BalanceClient, type BalanceClientOptions } from "./BalanceClient.ts"
export { BalanceCallError, type BalanceFailure, BalanceRefusal, BalanceUnavailable, type UnavailableReason } from "./errors.ts"
export * from "./generated/balanceService.ts"
export {
  type BalanceMethod,
  type CallOptions,
  DEFAULT_RETRY,
  RETRYABLE,
  type RequestOf,
  type ResponseOf,
  type RetrySettings,
  type TransportOptions
} from "./transport/BalanceTransport.ts"
export type { BreakerState, CircuitBreakerSettings } from "./transport/CircuitBreaker.ts"
export type { AuthSettings, Pem, TlsSettings } from "./transport/credentials.ts"
export type { HealthCheckSettings } from "./transport/Endpoints.ts"
export type { RetryBudgetSettings } from "./transport/RetryBudget.ts"
export {
  type BuyInHold,
  type Decision,
  GameBalance,
  type GameBalanceOptions,
  isAllowed,
  MIGRATION_MODES,
  type MigrationMode,
  OUTCOME_UNKNOWN_PAST_KEY_TTL,
  type ReplayPass
} from "./game/GameBalance.ts"
export type { Movement, MovementKind, MovementResult } from "./game/movements.ts"
export { type JournalCause, JournalCorrupt, type JournalEntry, JournalLocked, readJournalDir, ReconciliationJournal } from "./game/ReconciliationJournal.ts"
export type { Divergence, DivergenceKind, LegacyView, ShadowSettings } from "./game/ShadowMirror.ts"
export { buildReport, formatReport, type ReconciliationReport, type ReportRow } from "./report.ts"
export { type ClientEvent, type ClientLogger, type ClientTelemetry, noTelemetry, type SpanHandle, stderrLogger } from "./telemetry.ts"
export { openTelemetry } from "./openTelemetry.ts"

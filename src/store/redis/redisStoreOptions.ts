import type { RedisConnection } from "./redisConnectionOptions.ts"

export interface RedisStoreOptions {
  /** Where Redis is (a URL, or a Sentinel group) and how to log in: redisConnectionOptions.ts. */
  readonly connection: RedisConnection
  readonly keyPrefix: string
  /** Deadline of one attempt of one store call. */
  readonly commandTimeoutMs: number
  /** Retries after the first attempt, on StoreUnavailable only. */
  readonly retryAttempts: number
  /**
   * Cap of the events stream (XADD MAXLEN ~): the transfer lists then hold every transfer in full.
   * UNCAPPED_STREAM (HISTORY_ARCHIVE=on): no cap, the archiver trims the stream and the lists
   * together, and the lists reference the stream instead (apply.lua, trim.lua).
   */
  readonly eventsMaxLen: number
  /** With UNCAPPED_STREAM, "full": the lists still hold every transfer (TRANSFER_LISTS=full). Default "refs". */
  readonly transferLists?: "refs" | "full" | undefined
  /** After every write, WAIT for this many replicas to acknowledge it (0: do not wait). */
  readonly minReplicasAck: number
  /** WAIT's timeout; the apply's deadline grows by this much when minReplicasAck > 0. */
  readonly replicasAckTimeoutMs: number
  /** Extra allowance on apply.lua's deadline, beyond the measured clock offset (0: exact). */
  readonly deadlineSlackMs: number
  /** Write idempotency records as one compact string (both forms are always read): IDEMPOTENCY_RECORDS. */
  readonly compactIdempotency: boolean
  /** Most plans per apply.lua call (group commit; default APPLY_BATCH_MAX_PLANS; 1: no batching). */
  readonly applyBatchMaxPlans?: number | undefined
  /** When the applies of one event-loop turn are sent (default setImmediate; see applyBatcher.ts). */
  readonly applyBatchSchedule?: "setImmediate" | "nextTick" | undefined
  /** Serve single-object loads from memory under CLIENT TRACKING (READ_CACHE; docs/read-cache.md). */
  readonly readCache: boolean
  /** The read cache's bound (READ_CACHE_MAX_OBJECTS), least recently used dropped first. */
  readonly readCacheMaxObjects: number
}

/** Extra time an apply may take when it also waits for replicas. */
export const ackBudgetMs = (options: RedisStoreOptions) => (options.minReplicasAck > 0 ? options.replicasAckTimeoutMs : 0)

/**
 * eventsMaxLen of a stream the service never caps (HISTORY_ARCHIVE=on): it keeps every event until
 * the archiver has PostgreSQL's commit of it and trims it with the transfer lists (trim.lua), so
 * the lists may reference its events instead of holding each transfer twice more.
 */
export const UNCAPPED_STREAM = Number.MAX_SAFE_INTEGER

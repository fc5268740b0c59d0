import type { ScriptCall } from "./scriptLayout.ts"

/**
 * Group commit: the applies that are ready in the same turn of the event loop go to Redis as ONE
 * apply.lua call (one round trip, one script run, one AOF write and fsync for all of them), each
 * plan with its own checks and its own reply (apply.lua's header).
 *
 * Why a turn of the event loop: gRPC requests that arrive together are read in one poll phase of
 * libuv, and each runs (decode, load, plan) until it awaits its apply. Flushing with setImmediate
 * (the check phase right after that poll phase) catches all of them; process.nextTick would flush
 * after the first request's callback alone and send batches of one under the same load (measured,
 * `npm run bench -- --workload game --tables 32`: nextTick 1.0 plans per call, setImmediate 16.6-16.8).
 * The flush adds no wait of its own: setImmediate runs as soon as the work already queued in this
 * turn is done, which is the work that would have delayed the send anyway.
 *
 * A batch is capped (maxPlans, maxBytes) so that one script run does not hold Redis, nor one
 * reply the connection, for long; a full batch is sent at once and the next one starts.
 *
 * The batcher only groups and dispatches: each caller keeps its own deadline (redisSession's
 * call) and its plan its own deadline inside the script. A failed send (connection lost,
 * anything but a reply) fails every request of the batch; the store's retry (idempotency keys
 * make it safe) does the rest.
 */
export interface ApplyBatcherOptions<R> {
  /** Sends one batch of plan calls; resolves with the reply to all of them. */
  readonly send: (plans: ReadonlyArray<ScriptCall>) => Promise<R>
  /** Most plans per call. */
  readonly maxPlans: number
  /** Most KEYS and ARGV characters per call (a bigger plan still goes, alone). */
  readonly maxChars: number
  /** When the batch of this turn is sent. */
  readonly schedule?: "setImmediate" | "nextTick"
  /** Called once per call sent, with its number of plans (balance_store_apply_batch_size). */
  readonly onBatch?: (plans: number) => void
}

/** What a submitted plan gets: the reply to its whole batch and where its own reply is in it. */
export interface BatchedReply<R> {
  readonly reply: R
  readonly index: number
  readonly size: number
}

export interface ApplyBatcher<R> {
  /** Queues one plan call for the next batch (or sends the batch now when it is full). */
  readonly submit: (plan: ScriptCall) => Promise<BatchedReply<R>>
}

interface Pending<R> {
  readonly plan: ScriptCall
  readonly resolve: (reply: BatchedReply<R>) => void
  readonly reject: (cause: unknown) => void
}

const charsOf = (call: ScriptCall): number => {
  let n = 0
  for (const k of call.keys) n += k.length
  for (const a of call.args) n += a.length
  return n
}

export const makeApplyBatcher = <R>(options: ApplyBatcherOptions<R>): ApplyBatcher<R> => {
  let queue: Array<Pending<R>> = []
  let queuedChars = 0
  let scheduled = false

  const flush = () => {
    scheduled = false
    if (queue.length === 0) return
    const batch = queue
    queue = []
    queuedChars = 0
    options.onBatch?.(batch.length)
    const size = batch.length
    let sent: Promise<R>
    try {
      sent = options.send(batch.map((p) => p.plan))
    } catch (cause) {
      sent = Promise.reject(cause)
    }
    sent.then(
      (reply) => {
        for (let index = 0; index < size; index++) batch[index]!.resolve({ reply, index, size })
      },
      (cause: unknown) => {
        for (const p of batch) p.reject(cause)
      }
    )
  }

  const defer = options.schedule === "nextTick" ? (f: () => void) => process.nextTick(f) : (f: () => void) => void setImmediate(f)

  const submit = (plan: ScriptCall): Promise<BatchedReply<R>> =>
    new Promise((resolve, reject) => {
      const chars = charsOf(plan)
      if (queue.length > 0 && queuedChars + chars > options.maxChars) flush()
      queue.push({ plan, resolve, reject })
      queuedChars += chars
      if (queue.length >= options.maxPlans || queuedChars >= options.maxChars) flush()
      else if (!scheduled) {
        scheduled = true
        defer(flush)
      }
    })

  return { submit }
}

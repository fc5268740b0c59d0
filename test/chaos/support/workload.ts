import { assert } from "@effect/vitest"
import { type Answer, type ChaosClient, type Message, statusName, UNAVAILABLE } from "./grpcClient.ts"
import { applyToModel, emptyState, type ExpectedState, potId, stackId } from "./model.ts"
import { eventually, PollAborted } from "../../support/eventually.ts"
import { mapLimit } from "./poll.ts"
import { ADMIN_KEY, metric, metricSum, parseMetrics, type ServiceProcess } from "./serviceProcess.ts"

/**
 * A game-like client workload against a running service, and everything the
 * chaos tests check afterwards.
 *
 * Players (one account and one table per round each) run buy-in rounds:
 * deposit, balance read, reserve + commit, a second hold that is released,
 * two contributions, settle (even rounds) or cancel (odd rounds), stack read,
 * cash-out of the whole stack. A cashier deposits into its own wallet, over
 * gRPC and HTTP alternately. Every player touches only its own wallet,
 * tables and pots, so its acknowledged commands replayed in order give the
 * same books anywhere.
 *
 * Client rules (the game's contract): a credit answered `queued` is
 * acknowledged; a debit answered UNAVAILABLE is retried with the same
 * request (same idempotency key) once the service is ready again, or after a
 * second of back-off; a cash-out refused with INSUFFICIENT_STACK while the
 * settle that fills the stack is still queued is retried after the queue
 * drained. A lobby reader shows balances all the time.
 */

export type Kind = "credit" | "debit" | "read"

export interface Sent {
  readonly actor: string
  readonly method: string
  readonly kind: Kind
  readonly request: Message
  readonly contributor?: string
}

export interface Acked extends Sent {
  readonly response: Message
  readonly queued: boolean
  /** Position in the order acknowledgements arrived. */
  readonly order: number
}

export interface WorkloadStats {
  /** Debits answered UNAVAILABLE, with how long the answer took. */
  readonly unavailableDebits: Array<{ method: string; ms: number }>
  readonly staleReads: number
  readonly freshReads: number
  /** Reads that did not answer (status) while the service was up. */
  readonly readFailures: Array<string>
  /** Anything the contract does not allow: a credit refused UNAVAILABLE, an unexpected refusal or status. */
  readonly unexpected: Array<string>
  /** Cash-outs retried after the queued settle reached the stack. */
  readonly stackRetries: number
  /** How long each credit took to be acknowledged as queued. */
  readonly queuedMs: Array<number>
}

export interface WorkloadOptions {
  readonly prefix: string
  readonly players: number
  /** Stop each player after this many rounds (it also stops when asked). */
  readonly maxRounds: number
  /** Pause between two cashier deposits, so that an outage queues a bounded number of them. */
  readonly cashierPaceMs: number
  /** Cashier loops depositing into the one cashier wallet at the same time (default 1). */
  readonly cashiers?: number
  /** Pause between two balance reads of the lobby reader (it reads every wallet in turn). */
  readonly readerPaceMs: number
  readonly initialBalance?: number
}

class Halted extends Error {}

const CONTRIBUTIONS = [30, 20]
const BUY_IN = 200
const SIDE_HOLD = 10

export interface Workload {
  readonly acks: Array<Acked>
  /** Commands in flight, or awaiting a retry after UNAVAILABLE, when the workload was halted: outcome unknown. */
  readonly unknown: Array<Sent>
  readonly stats: WorkloadStats
  readonly accounts: ReadonlyArray<string>
  readonly rounds: () => number
  readonly queuedAcks: () => number
  /** Lets every player finish its round, the cashier its deposit, and waits for them. */
  readonly stop: () => Promise<void>
  /** Stops at once (the service is about to be killed): answers that come back after this are not trusted as failures. */
  readonly halt: () => Promise<void>
}

export interface Target {
  readonly client: ChaosClient
  readonly service: ServiceProcess
  /** Other instances on the same Redis that `client` also sends calls to (each has its own credit queue). */
  readonly peers?: ReadonlyArray<ServiceProcess>
}

const instancesOf = (target: Target): ReadonlyArray<ServiceProcess> => [target.service, ...(target.peers ?? [])]

/** POST /api/accounts/:id/deposit as an admin, mapped onto the gRPC answer shape. */
const httpDeposit = async (service: ServiceProcess, request: Message): Promise<Answer> => {
  const started = performance.now()
  try {
    const r = await service.http(`/api/accounts/${encodeURIComponent(request.account_id)}/deposit`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-admin-key": ADMIN_KEY, "idempotency-key": request.idempotency_key },
      body: JSON.stringify({ amount: Number(request.amount), source: request.source })
    })
    const body = (await r.json()) as Message
    const ms = performance.now() - started
    if (r.status === 202) return { kind: "response", response: { ok: true, queued: true, queue_id: body.queueId, http: 202 }, ms }
    if (r.ok) {
      return { kind: "response", response: { ok: true, queued: false, http: r.status, replayed: r.headers.get("idempotent-replayed") === "true", ...body }, ms }
    }
    if (r.status === 503) return { kind: "status", code: UNAVAILABLE, details: `HTTP 503 ${body.error}`, ms }
    return { kind: "response", response: { ok: false, error: body.error, error_message: body.message, http: r.status }, ms }
  } catch (e) {
    return { kind: "status", code: UNAVAILABLE, details: `HTTP request failed: ${e instanceof Error ? e.message : String(e)}`, ms: performance.now() - started }
  }
}

export const send = (target: Target, method: string, request: Message, deadlineMs = 15_000): Promise<Answer> =>
  method === "HttpDeposit" ? httpDeposit(target.service, request) : target.client.call(method, request, deadlineMs)

/** Waits until the service answers /api/ready (Redis reachable). */
export const waitReady = (service: ServiceProcess, timeoutMs = 90_000, halted: () => boolean = () => false) =>
  eventually("the service to be ready", async () => {
    if (halted()) throw new PollAborted("halted")
    const r = await service.http("/api/ready", { signal: AbortSignal.timeout(5000) })
    return r.ok ? true : undefined
  }, { timeoutMs, intervalMs: 100 })

export const queuePending = async (service: ServiceProcess) =>
  metric(parseMetrics(await service.metrics()), "balance_credit_queue_pending")

export const waitQueueDrained = (service: ServiceProcess, timeoutMs = 60_000) =>
  eventually("the credit queue to drain", async () => ((await queuePending(service)) === 0 ? true : undefined), { timeoutMs, intervalMs: 100 })

/** Every instance's credit queue empty. */
/**
 * The commands in flight when the service was killed, sent again with the same key to the restarted
 * `target` (what a game does): each must now be answered in band, not refused and not queued; while
 * the new process is not up yet (a gRPC status), wait for it and try again. Returns them acknowledged,
 * ordered after the workload's own acknowledgements.
 */
export const resendInFlight = async (target: Target, w: Workload): Promise<Array<Acked>> => {
  const resolved: Array<Acked> = []
  for (const u of w.unknown.filter((x) => x.kind !== "read")) {
    const answer = await eventually(`an answer to the in-flight ${u.method}`, async () => {
      const a = await send(target, u.method, u.request)
      if (a.kind === "status") {
        await waitReady(target.service)
        return undefined
      }
      return a
    }, { timeoutMs: 30_000 })
    if (answer.response.ok === false || answer.response.queued) {
      throw new Error(`in-flight ${u.method} ${JSON.stringify(u.request)}: ${JSON.stringify(answer.response)}`)
    }
    resolved.push({ ...u, response: answer.response, queued: false, order: w.acks.length + resolved.length })
  }
  return resolved
}

export const waitQueuesDrained = async (target: Target, timeoutMs = 60_000) => {
  for (const service of instancesOf(target)) await waitQueueDrained(service, timeoutMs)
}

export const startWorkload = async (target: Target, options: WorkloadOptions): Promise<Workload> => {
  const acks: Array<Acked> = []
  const unknown: Array<Sent> = []
  const stats = {
    unavailableDebits: [] as Array<{ method: string; ms: number }>,
    staleReads: 0,
    freshReads: 0,
    readFailures: [] as Array<string>,
    unexpected: [] as Array<string>,
    stackRetries: 0,
    queuedMs: [] as Array<number>
  }
  let stopped = false
  let halted = false
  let rounds = 0
  const initial = options.initialBalance ?? 1000
  const players = Array.from({ length: options.players }, (_, i) => `${options.prefix}-p${i}`)
  const cashier = `${options.prefix}-cashier`

  const ack = (sent: Sent, response: Message) => {
    acks.push({ ...sent, response, queued: response.queued === true, order: acks.length })
    return response
  }

  // Accounts first, before anything can go wrong.
  for (const id of [...players, cashier]) {
    const request = { account_id: id, initial_balance: String(initial) }
    ack({ actor: id, method: "EnsureAccount", kind: "credit", request }, await target.client.must("EnsureAccount", request))
  }

  /** Sends until the contract says the command is settled; returns the acknowledging response. */
  const step = async (sent: Sent): Promise<Message> => {
    for (let attempt = 1; ; attempt++) {
      if (halted) {
        // Sent at least once and never answered with a success: an UNAVAILABLE (or lost) answer
        // does not say the command did not land, so its outcome is unknown.
        if (attempt > 1) unknown.push(sent)
        throw new Halted()
      }
      const answer = await send(target, sent.method, sent.request)
      if (halted && answer.kind === "status") {
        unknown.push(sent)
        throw new Halted()
      }
      if (answer.kind === "response") {
        const r = answer.response
        if (sent.kind === "read") {
          if (r.stale) stats.staleReads++
          else stats.freshReads++
          return r
        }
        if (r.ok) {
          if (r.queued === true) stats.queuedMs.push(answer.ms)
          return ack(sent, r)
        }
        if (sent.method === "ProcessCashOut" && r.error === "INSUFFICIENT_STACK" && attempt < 20) {
          // The settle/cancel that fills this stack is still in the credit queue.
          stats.stackRetries++
          await waitQueuesDrained(target)
          continue
        }
        stats.unexpected.push(`${sent.method} ${JSON.stringify(sent.request)} refused in-band: ${r.error} ${r.error_message ?? ""}`)
        throw new Halted()
      }
      if (sent.kind === "read") {
        stats.readFailures.push(`${sent.method}: ${statusName(answer.code)} ${answer.details}`)
      } else if (answer.code === UNAVAILABLE && sent.kind === "debit") {
        stats.unavailableDebits.push({ method: sent.method, ms: answer.ms })
      } else {
        stats.unexpected.push(`${sent.method} (${sent.kind}) answered ${statusName(answer.code)}: ${answer.details}`)
      }
      // The same request again (same key, so at most one takes effect): as soon as the service is
      // ready again, or after a second of back-off anyway, as a game client would.
      await waitReady(target.service, 1000, () => halted).catch((e) => {
        if (e instanceof PollAborted && !halted) throw e
      })
    }
  }

  const player = async (index: number) => {
    const account = players[index]!
    const a = (method: string, kind: Kind, request: Message, contributor?: string) =>
      step(contributor ? { actor: account, method, kind, request, contributor } : { actor: account, method, kind, request })
    const key = (what: string, r: number) => `${options.prefix}-${what}-${index}-${r}`
    for (let r = 0; r < options.maxRounds && !stopped; r++) {
      const table = `${options.prefix}-t${index}-${r}`
      const hand = `h${r}`
      await a("Deposit", "credit", { account_id: account, amount: "50", idempotency_key: key("dep", r), source: "PROMO" })
      await a("GetBalance", "read", { account_id: account })
      const buyIn = await a("ReserveForBuyIn", "debit", {
        account_id: account, table_id: table, amount: String(BUY_IN), idempotency_key: key("res", r), timeout_seconds: 600
      })
      await a("CommitReservation", "debit", { reservation_id: buyIn.reservation_id })
      const side = await a("ReserveForBuyIn", "debit", {
        account_id: account, table_id: `${table}x`, amount: String(SIDE_HOLD), idempotency_key: key("hold", r), timeout_seconds: 600
      })
      await a("ReleaseReservation", "credit", { reservation_id: side.reservation_id, reason: "left before sitting" })
      for (const [i, chips] of CONTRIBUTIONS.entries()) {
        await a("RecordContribution", "debit", {
          table_id: table, hand_id: hand, seat_id: 1, account_id: account, amount: String(chips),
          contribution_type: i === 0 ? "BLIND" : "CALL", idempotency_key: key(`bet${i}`, r)
        })
      }
      const pot = CONTRIBUTIONS.reduce((s, c) => s + c, 0)
      if (r % 2 === 0) {
        await a("SettlePot", "credit", {
          table_id: table, hand_id: hand, winners: [{ seat_id: 1, account_id: account, amount: String(pot) }], idempotency_key: key("settle", r)
        })
      } else {
        await a("CancelPot", "credit", { table_id: table, hand_id: hand, reason: "misdeal", idempotency_key: key("cancel", r) }, account)
      }
      await a("GetTableStack", "read", { table_id: table, account_id: account })
      await a("ProcessCashOut", "credit", { account_id: account, table_id: table, seat_id: 1, amount: String(BUY_IN), idempotency_key: key("cashout", r) })
      rounds++
    }
  }

  const cashierLoop = async (loop: number) => {
    for (let i = 0; !stopped; i++) {
      await step({
        actor: cashier,
        method: i % 2 === 0 ? "Deposit" : "HttpDeposit",
        kind: "credit",
        request: { account_id: cashier, amount: String(1 + (i % 7)), idempotency_key: `${options.prefix}-cash-${loop}-${i}`, source: "ADMIN" }
      })
      await new Promise((resolve) => setTimeout(resolve, options.cashierPaceMs))
    }
  }

  // The lobby: shows balances all the time, whatever the store does.
  const readerLoop = async () => {
    for (let i = 0; !stopped; i++) {
      const id = i % 2 === 0 ? cashier : players[(i >> 1) % players.length]!
      await step({ actor: "reader", method: "GetBalance", kind: "read", request: { account_id: id } })
      await new Promise((resolve) => setTimeout(resolve, options.readerPaceMs))
    }
  }

  const guard = (p: Promise<void>) =>
    p.catch((e) => {
      if (e instanceof Halted || halted) return
      stats.unexpected.push(`worker failed: ${e instanceof Error ? e.message : String(e)}`)
    })
  const running = Promise.all([...players.map((_, i) => guard(player(i))), ...Array.from({ length: options.cashiers ?? 1 }, (_, loop) => guard(cashierLoop(loop))), guard(readerLoop())])

  return {
    acks,
    unknown,
    stats,
    accounts: [...players, cashier],
    rounds: () => rounds,
    queuedAcks: () => acks.filter((x) => x.queued).length,
    stop: async () => {
      stopped = true
      await running
    },
    halt: async () => {
      halted = true
      await running
    }
  }
}

// ---------------------------------------------------------------------------
// Checks after the fact
// ---------------------------------------------------------------------------

const reservationIdOf = (c: { request: Message }) => c.request.reservation_id as string

/** The books the acknowledged commands (and any others known to be applied) must have produced. */
export const expectedState = (commands: ReadonlyArray<Acked | (Sent & { response: Message })>): ExpectedState => {
  const state = emptyState()
  for (const c of commands) applyToModel(state, c, reservationIdOf)
  return state
}

export interface ObservedState {
  readonly wallets: Record<string, { balance: number; held: number }>
  readonly stacks: Record<string, number>
  readonly pots: Record<string, { balance: number; status: string }>
}

/** Reads, through the service, every object the model knows of. */
export const observedState = async (client: ChaosClient, model: ExpectedState): Promise<ObservedState> => {
  const wallets: ObservedState["wallets"] = {}
  const stacks: ObservedState["stacks"] = {}
  const pots: ObservedState["pots"] = {}
  await mapLimit([...model.wallets.keys()], 8, async (id) => {
    const b = await client.must("GetBalance", { account_id: id })
    if (b.stale) throw new Error(`GetBalance ${id} is stale`)
    wallets[id] = { balance: Number(b.balance), held: Number(b.held) }
  })
  await mapLimit([...model.stacks.keys()], 8, async (k) => {
    const [table, account] = k.split("|") as [string, string]
    const s = await client.must("GetTableStack", { table_id: table, account_id: account })
    if (!s.ok || s.stale) throw new Error(`GetTableStack ${k}: ${s.error} stale=${s.stale}`)
    stacks[k] = Number(s.balance)
  })
  await mapLimit([...model.pots.keys()], 8, async (k) => {
    const [table, hand] = k.split("|") as [string, string]
    const p = await client.must("GetPot", { table_id: table, hand_id: hand })
    if (!p.ok || p.stale) throw new Error(`GetPot ${k}: ${p.error} stale=${p.stale}`)
    pots[k] = { balance: Number(p.balance), status: p.status }
  })
  return { wallets, stacks, pots }
}

export const modelAsObserved = (model: ExpectedState): ObservedState => ({
  wallets: Object.fromEntries([...model.wallets].map(([id, w]) => [id, { balance: w.balance, held: w.held }])),
  stacks: Object.fromEntries(model.stacks),
  pots: Object.fromEntries([...model.pots].map(([k, p]) => [k, { balance: p.balance, status: p.status }]))
})

/** Differences between two states, one line each (empty when equal). */
export const diffStates = (expected: ObservedState, actual: ObservedState): Array<string> => {
  const out: Array<string> = []
  const cmp = (what: string, e: Record<string, unknown>, a: Record<string, unknown>) => {
    for (const k of new Set([...Object.keys(e), ...Object.keys(a)])) {
      if (JSON.stringify(e[k]) !== JSON.stringify(a[k])) out.push(`${what} ${k}: expected ${JSON.stringify(e[k])}, got ${JSON.stringify(a[k])}`)
    }
  }
  cmp("wallet", expected.wallets, actual.wallets)
  cmp("stack", expected.stacks, actual.stacks)
  cmp("pot", expected.pots, actual.pots)
  return out
}

/** Ledger entries of each wallet counted by type: a command applied twice shows up as one entry too many. */
export const walletEntryCounts = async (client: ChaosClient, accounts: ReadonlyArray<string>) => {
  const out: Record<string, Record<string, number>> = {}
  await mapLimit(accounts, 4, async (id) => {
    const counts: Record<string, number> = {}
    let after = "0"
    for (;;) {
      const page = await client.must("ListLedgerEntries", { account_id: id, after_seq: after, limit: 1000 })
      if (!page.ok) throw new Error(`ListLedgerEntries ${id}: ${page.error}`)
      for (const e of page.entries as Array<Message>) counts[e.type] = (counts[e.type] ?? 0) + 1
      if (page.next_after_seq === "0" || (page.entries as Array<Message>).length === 0) break
      after = page.next_after_seq
    }
    out[id] = counts
  })
  return out
}

export const expectedEntryCounts = (model: ExpectedState) =>
  Object.fromEntries([...model.wallets].map(([id, w]) => [id, Object.fromEntries([...w.entries].sort())]))

export const sortedCounts = (counts: Record<string, Record<string, number>>) =>
  Object.fromEntries(Object.entries(counts).map(([id, c]) => [id, Object.fromEntries(Object.entries(c).sort())]))

const KEYED_OPS = ["Deposit", "Reserve", "Contribute", "Settle", "Cancel", "CashOut"]
const replaysOf = async (service: ServiceProcess, ops: ReadonlyArray<string>) => {
  const m = parseMetrics(await service.metrics())
  return ops.reduce((s, op) => s + metricSum(m, "balance_idempotent_replays_total", { operation: op }), 0)
}

/** Idempotent replays counted by every instance of the target. */
export const idempotentReplays = async (target: Target) => {
  let total = 0
  for (const service of instancesOf(target)) total += await replaysOf(service, KEYED_OPS)
  return total
}

/**
 * Keyed debits answered from their stored key. Before the final replays the workload only
 * sends a debit again after UNAVAILABLE, so each of these is a debit that had landed although
 * its caller was told UNAVAILABLE (the retry with the same key then answered the success).
 */
export const debitsAnsweredFromKey = async (target: Target) => {
  let total = 0
  for (const service of instancesOf(target)) total += await replaysOf(service, ["Reserve", "Contribute", "Withdraw"])
  return total
}

const comparable = (r: Message) => {
  const { replayed: _r, http: _h, ...rest } = r
  return rest
}

/**
 * Sends every acknowledged command again. Keyed commands must come back as
 * the stored answer (identical to the original when it was answered
 * directly; ok and not queued when it was queued) and are counted by the
 * service as idempotent replays; commits answer the original success;
 * releases are harmless successes and the reservation reads RELEASED.
 */
export const replayAcknowledged = async (target: Target, acks: ReadonlyArray<Acked>) => {
  const mismatches: Array<string> = []
  let keyed = 0
  let checked = 0
  const before = await idempotentReplays(target)
  await mapLimit(acks.filter((a) => a.method !== "EnsureAccount"), 8, async (a) => {
    const answer = await send(target, a.method, a.request)
    checked++
    if (answer.kind !== "response") {
      mismatches.push(`${a.method} ${JSON.stringify(a.request)}: replay answered ${statusName(answer.code)}`)
      return
    }
    const r = answer.response
    if (!r.ok || r.queued) {
      mismatches.push(`${a.method} ${JSON.stringify(a.request)}: replay answered ${JSON.stringify(r)}`)
      return
    }
    if (a.method === "HttpDeposit" && !r.replayed) mismatches.push(`HttpDeposit ${a.request.idempotency_key}: no idempotent-replayed header`)
    if (a.method === "ReleaseReservation") {
      const res = await target.client.must("GetReservation", { reservation_id: a.request.reservation_id })
      if (res.status !== "RELEASED") mismatches.push(`reservation ${a.request.reservation_id} is ${res.status}, not RELEASED`)
      return
    }
    if (a.method !== "CommitReservation") keyed++
    if (!a.queued && JSON.stringify(comparable(r)) !== JSON.stringify(comparable(a.response))) {
      mismatches.push(`${a.method} ${JSON.stringify(a.request)}: replay ${JSON.stringify(r)} differs from ${JSON.stringify(a.response)}`)
    }
  })
  const replaysCounted = (await idempotentReplays(target)) - before
  // Every keyed replay must have been answered from its stored key: one that was applied afresh had been lost.
  if (replaysCounted !== keyed) mismatches.push(`${keyed} keyed commands replayed, but the service counted ${replaysCounted} idempotent replays`)
  return { checked, keyed, replaysCounted, mismatches }
}

/** POST /api/admin/ledger/verify (full pass). */
export const verifyLedger = async (service: ServiceProcess) => {
  const r = await service.http("/api/admin/ledger/verify", {
    method: "POST",
    headers: { "content-type": "application/json", "x-admin-key": ADMIN_KEY },
    body: JSON.stringify({})
  })
  const body = (await r.json()) as Message
  return { status: r.status, body }
}

/**
 * Sends `acks` again, in their order per actor, to a fresh service: the
 * no-outage run of the same acknowledged commands. Reservation ids differ
 * between the runs and are mapped.
 */
export const replayInReference = async (target: Target, acks: ReadonlyArray<Acked>) => {
  const failures: Array<string> = []
  const byActor = new Map<string, Array<Acked>>()
  for (const a of [...acks].sort((x, y) => x.order - y.order)) {
    const list = byActor.get(a.actor) ?? []
    list.push(a)
    byActor.set(a.actor, list)
  }
  const mapped = new Map<string, string>()
  const reference: Array<Acked> = []
  await mapLimit([...byActor.values()], 8, async (list) => {
    for (const a of list) {
      const request = a.request.reservation_id ? { ...a.request, reservation_id: mapped.get(a.request.reservation_id) } : a.request
      const answer = await send(target, a.method, request)
      // EnsureAccount has no ok field: any response is a success.
      if (answer.kind !== "response" || answer.response.ok === false || answer.response.queued) {
        failures.push(`${a.method} ${JSON.stringify(request)}: ${JSON.stringify(answer)}`)
        continue
      }
      if (a.method === "ReserveForBuyIn") mapped.set(a.response.reservation_id, answer.response.reservation_id)
      reference.push({ ...a, request, response: answer.response })
    }
  })
  return { failures, reference }
}

export const summarizeLatency = (ms: ReadonlyArray<number>) =>
  ms.length === 0 ? "none" : `max ${Math.round(Math.max(...ms))} ms, mean ${Math.round(ms.reduce((s, x) => s + x, 0) / ms.length)} ms`

export { potId, stackId }

/** Entries per wallet and type that are missing (lost) or extra (applied twice), against the model. */
export const entryDifferences = (expected: Record<string, Record<string, number>>, actual: Record<string, Record<string, number>>) => {
  let missing = 0
  let extra = 0
  for (const id of new Set([...Object.keys(expected), ...Object.keys(actual)])) {
    const e = expected[id] ?? {}
    const a = actual[id] ?? {}
    for (const type of new Set([...Object.keys(e), ...Object.keys(a)])) {
      const d = (a[type] ?? 0) - (e[type] ?? 0)
      if (d < 0) missing -= d
      else extra += d
    }
  }
  return { missing, extra }
}

/**
 * Everything the chaos tests check once the dust has settled, through the
 * service: balances, stacks and pots equal the model of `applied`; ledger
 * entries by type per wallet equal the model (one too many = applied twice,
 * one too few = lost); a full verification passes; every command replays
 * from its stored key; the replays moved nothing.
 */
export const auditBooks = async (target: Target, applied: ReadonlyArray<Acked>, accounts: ReadonlyArray<string>) => {
  const model = expectedState(applied)
  const observed = await observedState(target.client, model)
  const stateDiff = diffStates(modelAsObserved(model), observed)
  const entries = sortedCounts(await walletEntryCounts(target.client, accounts))
  const expectedEntries = expectedEntryCounts(model)
  const verified = await verifyLedger(target.service)
  const replays = await replayAcknowledged(target, applied)
  const movedByReplays = diffStates(observed, await observedState(target.client, model))
  const { missing, extra } = entryDifferences(expectedEntries, entries)
  return {
    model,
    observed,
    stateDiff,
    entries,
    expectedEntries,
    verified,
    replays,
    movedByReplays,
    /** Acknowledged commands not found: entries missing, or keyed commands applied afresh when replayed. */
    lost: missing + (replays.keyed - replays.replaysCounted),
    /** Commands applied more than once: extra ledger entries. */
    duplicated: extra
  }
}

/**
 * What every chaos run must end with: the books equal the model of the acknowledged commands,
 * ledger entries per wallet and type match it (one extra = applied twice, one missing = lost),
 * a full verification passes, every command replays from its stored key and the replays moved nothing.
 */
export const assertBooksBalance = (audit: Awaited<ReturnType<typeof auditBooks>>, model = "the sum of the acknowledged effects") => {
  assert.deepStrictEqual(audit.stateDiff, [], `books vs ${model}`)
  assert.deepStrictEqual(audit.entries, audit.expectedEntries, "ledger entries by type per wallet")
  assert.strictEqual(audit.verified.status, 200)
  assert.isTrue(audit.verified.body.ok, JSON.stringify(audit.verified.body.findings))
  assert.deepStrictEqual(audit.replays.mismatches, [], "every acknowledged command replays from its stored key")
  assert.deepStrictEqual(audit.movedByReplays, [], "replays moved chips")
  assert.strictEqual(audit.lost, 0)
  assert.strictEqual(audit.duplicated, 0)
}

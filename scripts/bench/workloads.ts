/**
 * What each benchmark workload asks of the balance service, one async loop
 * per table. Every loop tracks the chips itself (stacks, pots), so it never
 * asks for something the ledger must refuse and it issues the same sequence
 * of calls against the service and against the do-nothing baseline (whose
 * answers are constants). Loops stop between actions, never mid-hand.
 */
import type { Message } from "./proto.ts"

export type WorkloadName = "game" | "buyin" | "balance"
export const WORKLOADS: ReadonlyArray<WorkloadName> = ["game", "buyin", "balance"]

/** One call: resolves with the response, or undefined when it failed (already counted as an error). */
export type Rpc = (method: string, request: Message) => Promise<Message | undefined>

export interface LoopContext {
  readonly rpc: Rpc
  readonly stopped: () => boolean
  readonly random: () => number
  /** A fresh idempotency key, unique across the whole benchmark run. */
  readonly key: () => string
}

/** Chips granted to every preloaded wallet: enough for any number of re-buys. */
export const INITIAL_BALANCE = 1_000_000_000
export const BUY_IN = 1_000

/** Deterministic PRNG (mulberry32): the same table plays the same hands against service and baseline. */
export const prng = (seed: number) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const pick = <A>(random: () => number, list: ReadonlyArray<A>): A => list[Math.floor(random() * list.length)]!

// ---------------------------------------------------------------------------
// Accounts and tables (names are a function of the phase tag and table index,
// so the preload mode can seed history onto the very wallets a run will use)
// ---------------------------------------------------------------------------

/** Players at table `t` of the game: 2..6, cycling. */
export const playersAt = (t: number) => 2 + (t % 5)
/** `generation` > 0 after a loop restarted on a call that failed (its chips stay at the abandoned table). */
export const tableId = (tag: string, t: number, generation = 0) => `${tag}-t${t}${generation > 0 ? `-r${generation}` : ""}`
export const gameAccount = (tag: string, t: number, player: number) => `${tag}-t${t}-p${player}`
export const buyinAccount = (tag: string, t: number) => `${tag}-b${t}`
export const balanceAccount = (tag: string, t: number, i: number) => `${tag}-q${t}-${i}`
export const BALANCE_ACCOUNTS_PER_LOOP = 4

/** The wallets a workload's loop `t` uses; created with EnsureAccount before anything is measured. */
export const accountsOf = (workload: WorkloadName, tag: string, t: number): ReadonlyArray<string> => {
  switch (workload) {
    case "game":
      return Array.from({ length: playersAt(t) }, (_, i) => gameAccount(tag, t, i + 1))
    case "buyin":
      return [buyinAccount(tag, t)]
    case "balance":
      return Array.from({ length: BALANCE_ACCOUNTS_PER_LOOP }, (_, i) => balanceAccount(tag, t, i))
  }
}

// ---------------------------------------------------------------------------
// The loops
// ---------------------------------------------------------------------------

interface Seat {
  readonly seat: number
  readonly account: string
  stack: number
}

const buyIn = async (ctx: LoopContext, table: string, s: Seat) => {
  const reserved = await ctx.rpc("ReserveForBuyIn", {
    account_id: s.account,
    table_id: table,
    amount: String(BUY_IN),
    idempotency_key: ctx.key()
  })
  if (!reserved) return false
  const committed = await ctx.rpc("CommitReservation", { reservation_id: reserved.reservation_id })
  if (!committed) return false
  s.stack += BUY_IN
  return true
}

/** Main pot and side pots of one hand's contributions; each layer won by one of the seats that reached it. */
const payouts = (ctx: LoopContext, put: ReadonlyMap<Seat, number>): Map<Seat, number> => {
  const levels = [...new Set(put.values())].sort((a, b) => a - b)
  const won = new Map<Seat, number>()
  let below = 0
  for (const level of levels) {
    const reached = [...put].filter(([, amount]) => amount >= level).map(([seat]) => seat)
    const layer = [...put.values()].reduce((sum, amount) => sum + Math.max(0, Math.min(amount, level) - below), 0)
    const winner = pick(ctx.random, reached)
    won.set(winner, (won.get(winner) ?? 0) + layer)
    below = level
  }
  return won
}

const TYPES = ["BET", "CALL", "RAISE"] as const

/** One hand: blinds, 4..8 contributions in all (some all-in, which makes side pots), settlement. */
const playHand = async (ctx: LoopContext, table: string, seats: ReadonlyArray<Seat>, hand: number) => {
  const handId = `h${hand}`
  const put = new Map<Seat, number>()
  const contribute = async (s: Seat, amount: number, type: string) => {
    const r = await ctx.rpc("RecordContribution", {
      table_id: table,
      hand_id: handId,
      seat_id: s.seat,
      account_id: s.account,
      amount: String(amount),
      contribution_type: amount === s.stack ? "ALL_IN" : type,
      idempotency_key: ctx.key()
    })
    if (!r) return false
    s.stack -= amount
    put.set(s, (put.get(s) ?? 0) + amount)
    return true
  }
  const inHand = seats.filter((s) => s.stack > 0)
  const small = inHand[hand % inHand.length]!
  const big = inHand[(hand + 1) % inHand.length]!
  if (!(await contribute(small, Math.min(5, small.stack), "BLIND"))) return false
  if (!(await contribute(big, Math.min(10, big.stack), "BLIND"))) return false
  const count = 4 + Math.floor(ctx.random() * 5)
  for (let i = 2; i < count; i++) {
    const canAct = inHand.filter((s) => s.stack > 0)
    if (canAct.length === 0) break
    const s = pick(ctx.random, canAct)
    const amount = ctx.random() < 0.12 ? s.stack : Math.min(s.stack, 10 * (1 + Math.floor(ctx.random() * 20)))
    if (!(await contribute(s, amount, pick(ctx.random, TYPES)))) return false
  }
  const won = payouts(ctx, put)
  const settled = await ctx.rpc("SettlePot", {
    table_id: table,
    hand_id: handId,
    winners: [...won].map(([s, amount]) => ({ seat_id: s.seat, account_id: s.account, amount: String(amount) })),
    idempotency_key: ctx.key()
  })
  if (!settled) return false
  for (const [s, amount] of won) s.stack += amount
  return true
}

/**
 * A table of 2..6 players: everyone buys in (reserve + commit), then hands
 * until stopped; a busted player re-buys; now and then someone cashes out
 * (all or half of the stack) and buys in again.
 */
export const gameLoop = async (ctx: LoopContext, tag: string, t: number, generation: number) => {
  const table = tableId(tag, t, generation)
  const seats: Array<Seat> = accountsOf("game", tag, t).map((account, i) => ({ seat: i + 1, account, stack: 0 }))
  let hand = 0
  while (!ctx.stopped()) {
    for (const s of seats) {
      if (s.stack === 0 && !(await buyIn(ctx, table, s))) return false
    }
    if (ctx.stopped()) break
    hand += 1
    if (!(await playHand(ctx, table, seats, hand))) return false
    if (ctx.random() < 0.1 && !ctx.stopped()) {
      const s = pick(ctx.random, seats.filter((x) => x.stack > 0))
      const amount = ctx.random() < 0.5 ? s.stack : Math.ceil(s.stack / 2)
      const out = await ctx.rpc("ProcessCashOut", {
        account_id: s.account,
        table_id: table,
        seat_id: s.seat,
        amount: String(amount),
        idempotency_key: ctx.key(),
        hand_id: `h${hand}`
      })
      if (!out) return false
      s.stack -= amount
      if (!(await buyIn(ctx, table, s))) return false
    }
  }
  return true
}

/** Reserve -> commit -> cash-out of the whole buy-in, over and over, one wallet per loop. */
export const buyinLoop = async (ctx: LoopContext, tag: string, t: number, generation: number) => {
  const account = buyinAccount(tag, t)
  const table = tableId(tag, t, generation)
  while (!ctx.stopped()) {
    const seat: Seat = { seat: 1, account, stack: 0 }
    if (!(await buyIn(ctx, table, seat))) return false
    const out = await ctx.rpc("ProcessCashOut", {
      account_id: account,
      table_id: table,
      seat_id: 1,
      amount: String(BUY_IN),
      idempotency_key: ctx.key()
    })
    if (!out) return false
  }
  return true
}

/** GetBalance of the loop's wallets, round robin. */
export const balanceLoop = async (ctx: LoopContext, tag: string, t: number, _generation: number) => {
  const accounts = accountsOf("balance", tag, t)
  for (let i = 0; !ctx.stopped(); i++) {
    if (!(await ctx.rpc("GetBalance", { account_id: accounts[i % accounts.length] }))) return false
  }
  return true
}

/** Runs until stopped; false when a call failed (the worker then starts the loop again at a fresh table). */
export const loopOf = (workload: WorkloadName): (ctx: LoopContext, tag: string, t: number, generation: number) => Promise<boolean> =>
  workload === "game" ? gameLoop : workload === "buyin" ? buyinLoop : balanceLoop

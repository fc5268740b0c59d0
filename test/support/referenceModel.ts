import type { Command } from "../../src/domain/commands.ts"
import type { RefusalCode } from "../../src/domain/errors.ts"
import { type LedgerRules, MAX_RESERVATION_TIMEOUT_MS } from "../../src/domain/rules.ts"

/**
 * A reference model of the books, the property tests' oracle: plain maps of
 * numbers written from the README's operation table, sharing no code with the
 * planner, the ledger or the stores. For each command it says what the right
 * answer is: the refusal code, the stored response of an earlier success, or
 * a success whose response it checks field by field before booking its effect.
 */

interface Wallet {
  balance: number
  held: number
}
interface Row {
  readonly seatId: number
  readonly accountId: string
  amount: number
}
interface Pot {
  status: "ACTIVE" | "SETTLED" | "CANCELLED"
  balance: number
  readonly rows: Array<Row>
}
interface Hold {
  readonly accountId: string
  readonly tableId: string
  readonly amount: number
  readonly expiresAt: number
  status: "HELD" | "COMMITTED" | "RELEASED" | "EXPIRED"
  commit?: unknown
}

export type Prediction =
  | { readonly _tag: "Refused"; readonly code: RefusalCode }
  | { readonly _tag: "Replayed"; readonly response: unknown }
  /** A success: `accept` checks the response (throws on a wrong field) and books the effect. */
  | { readonly _tag: "Succeeds"; readonly accept: (response: unknown) => void }

const MAX = Number.MAX_SAFE_INTEGER
const safe = (n: number) => Number.isSafeInteger(n) && Math.abs(n) <= MAX

/** Fields of a response the model can tell: each must be exactly this. */
const expectFields = (what: string, response: unknown, fields: Readonly<Record<string, unknown>>) => {
  const r = response as Record<string, unknown>
  for (const [k, v] of Object.entries(fields)) {
    if (JSON.stringify(r[k]) !== JSON.stringify(v)) {
      throw new Error(`${what}: ${k} is ${JSON.stringify(r[k])}, the model says ${JSON.stringify(v)}`)
    }
  }
}

/** Keys sorted at every level: the same request written in another field order is the same request. */
const canonicalJson = (v: unknown): string =>
  Array.isArray(v)
    ? `[${v.map(canonicalJson).join(",")}]`
    : v !== null && typeof v === "object"
    ? `{${Object.entries(v).filter(([, x]) => x !== undefined).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, x]) => `${JSON.stringify(k)}:${canonicalJson(x)}`).join(",")}}`
    : JSON.stringify(v)

export class BooksModel {
  private readonly wallets = new Map<string, Wallet>()
  private readonly stacks = new Map<string, number>()
  private readonly pots = new Map<string, Pot>()
  private readonly holds = new Map<string, Hold>()
  private readonly system = { mint: 0, burn: 0, rake: 0 }
  /** `${op}:${key}` -> the request and the response of its first success. */
  private readonly keys = new Map<string, { readonly request: string; readonly response: unknown }>()
  private readonly rules: LedgerRules

  constructor(rules: LedgerRules) {
    this.rules = rules
  }

  private stack(tableId: string, accountId: string) {
    return this.stacks.get(`${tableId}/${accountId}`) ?? 0
  }

  /** What the ledger must answer to `c` at time `now`. */
  predict(c: Command, now: number): Prediction {
    const key = "idempotencyKey" in c && c.idempotencyKey !== undefined ? `${c.op}:${c.idempotencyKey}` : undefined
    if (key !== undefined) {
      const earlier = this.keys.get(key)
      if (earlier) {
        return earlier.request === canonicalJson(c)
          ? { _tag: "Replayed", response: earlier.response }
          : { _tag: "Refused", code: "IDEMPOTENCY_KEY_REUSED" }
      }
    }
    const p = this.evaluate(c, now)
    if (p._tag !== "Succeeds" || key === undefined) return p
    return {
      _tag: "Succeeds",
      accept: (response) => {
        p.accept(response)
        this.keys.set(key, { request: canonicalJson(c), response })
      }
    }
  }

  private evaluate(c: Command, now: number): Prediction {
    const refuse = (code: RefusalCode): Prediction => ({ _tag: "Refused", code })
    /** A success, unless a balance it leaves is beyond the safe integers (then nothing moves). */
    const succeed = (results: ReadonlyArray<number>, accept: (response: unknown) => void): Prediction =>
      results.every(safe) ? { _tag: "Succeeds", accept } : refuse("AMOUNT_OVERFLOW")
    switch (c.op) {
      case "EnsureAccount": {
        const w = this.wallets.get(c.accountId)
        if (w) return { _tag: "Succeeds", accept: (r) => expectFields(c.op, r, { accountId: c.accountId, balance: w.balance, created: false }) }
        return succeed([this.system.mint - c.initialBalance], (r) => {
          expectFields(c.op, r, { accountId: c.accountId, balance: c.initialBalance, created: true })
          this.wallets.set(c.accountId, { balance: c.initialBalance, held: 0 })
          this.system.mint -= c.initialBalance
        })
      }
      case "Deposit":
      case "Withdraw": {
        const w = this.wallets.get(c.accountId)
        if (!w) return refuse("ACCOUNT_NOT_FOUND")
        const sign = c.op === "Deposit" ? 1 : -1
        if (sign < 0 && w.balance - w.held < c.amount) return refuse("INSUFFICIENT_BALANCE")
        const balance = w.balance + sign * c.amount
        const systemAfter = sign > 0 ? this.system.mint - c.amount : this.system.burn + c.amount
        return succeed([balance, systemAfter], (r) => {
          expectFields(c.op, r, { accountId: c.accountId, amount: c.amount, balance, availableBalance: balance - w.held })
          w.balance = balance
          if (sign > 0) this.system.mint = systemAfter
          else this.system.burn = systemAfter
        })
      }
      case "Reserve": {
        if (!Number.isInteger(c.timeoutMs) || c.timeoutMs < 0 || c.timeoutMs > MAX_RESERVATION_TIMEOUT_MS) return refuse("INVALID_TIMEOUT")
        const w = this.wallets.get(c.accountId)
        if (!w) return refuse("ACCOUNT_NOT_FOUND")
        if (w.balance - w.held < c.amount) return refuse("INSUFFICIENT_BALANCE")
        const expiresAt = now + (c.timeoutMs > 0 ? c.timeoutMs : this.rules.reservationTimeoutMs)
        return succeed([], (r) => {
          expectFields(c.op, r, { availableBalance: w.balance - w.held - c.amount, expiresAt })
          const id = (r as { reservationId: string }).reservationId
          if (this.holds.has(id)) throw new Error(`Reserve: reservation id ${id} given twice`)
          w.held += c.amount
          this.holds.set(id, { accountId: c.accountId, tableId: c.tableId, amount: c.amount, expiresAt, status: "HELD" })
        })
      }
      case "Commit": {
        const h = this.holds.get(c.reservationId)
        if (!h) return refuse("RESERVATION_NOT_FOUND")
        if (h.status === "COMMITTED") return { _tag: "Succeeds", accept: (r) => expectFields(c.op, r, h.commit as Record<string, unknown>) }
        if (h.status !== "HELD") return refuse("RESERVATION_NOT_HELD")
        if (now >= h.expiresAt) return refuse("RESERVATION_EXPIRED")
        const w = this.wallets.get(h.accountId)!
        const stack = this.stack(h.tableId, h.accountId) + h.amount
        return succeed([stack], (r) => {
          expectFields(c.op, r, { newBalance: w.balance - h.amount })
          w.balance -= h.amount
          w.held -= h.amount
          this.stacks.set(`${h.tableId}/${h.accountId}`, stack)
          h.status = "COMMITTED"
          h.commit = r
        })
      }
      case "Release": {
        const h = this.holds.get(c.reservationId)
        if (!h) return refuse("RESERVATION_NOT_FOUND")
        if (h.status === "COMMITTED") return refuse("ALREADY_COMMITTED")
        const w = this.wallets.get(h.accountId)!
        if (h.status !== "HELD") {
          return { _tag: "Succeeds", accept: (r) => expectFields(c.op, r, { availableBalance: w.balance - w.held, status: h.status }) }
        }
        return succeed([], (r) => {
          expectFields(c.op, r, { availableBalance: w.balance - w.held + h.amount, status: "RELEASED" })
          w.held -= h.amount
          h.status = "RELEASED"
        })
      }
      case "Expire": {
        const h = this.holds.get(c.reservationId)
        if (!h || h.status !== "HELD" || now < h.expiresAt) {
          return { _tag: "Succeeds", accept: (r) => expectFields(c.op, r, { expired: false, lateByMs: 0 }) }
        }
        return succeed([], (r) => {
          expectFields(c.op, r, { expired: true, lateByMs: now - h.expiresAt })
          this.wallets.get(h.accountId)!.held -= h.amount
          h.status = "EXPIRED"
        })
      }
      case "Contribute": {
        const stack = this.stack(c.tableId, c.accountId)
        if (stack < c.amount) return refuse("INSUFFICIENT_STACK")
        const pot = this.pots.get(`${c.tableId}/${c.handId}`)
        if (pot && pot.status !== "ACTIVE") return refuse("POT_NOT_ACTIVE")
        if (pot?.rows.some((row) => (row.seatId === c.seatId) !== (row.accountId === c.accountId))) return refuse("INVALID_SEAT_ID")
        const total = (pot?.balance ?? 0) + c.amount
        const row = pot?.rows.find((x) => x.seatId === c.seatId)
        return succeed([total], (r) => {
          expectFields(c.op, r, { totalPot: total, seatContribution: (row?.amount ?? 0) + c.amount, stack: stack - c.amount })
          this.stacks.set(`${c.tableId}/${c.accountId}`, stack - c.amount)
          const p = pot ?? { status: "ACTIVE" as const, balance: 0, rows: [] }
          this.pots.set(`${c.tableId}/${c.handId}`, p)
          p.balance = total
          if (row) row.amount += c.amount
          else p.rows.push({ seatId: c.seatId, accountId: c.accountId, amount: c.amount })
        })
      }
      case "Settle": {
        const pot = this.pots.get(`${c.tableId}/${c.handId}`)
        if (!pot) return refuse("POT_NOT_FOUND")
        if (pot.status !== "ACTIVE") return refuse("POT_NOT_ACTIVE")
        if (c.winners.length === 0) return refuse("INVALID_WINNERS")
        if (new Set(c.winners.map((w) => w.seatId)).size !== c.winners.length) return refuse("INVALID_WINNERS")
        if (!c.winners.every((w) => pot.rows.some((row) => row.seatId === w.seatId && row.accountId === w.accountId))) {
          return refuse("INVALID_WINNERS")
        }
        const { basisPoints, capChips, minPotChips } = this.rules.rake
        const uncapped = basisPoints > 0 && pot.balance > minPotChips ? Number((BigInt(pot.balance) * BigInt(basisPoints)) / 10_000n) : 0
        const rake = capChips > 0 ? Math.min(uncapped, capChips) : uncapped
        const payouts = shares(pot.balance - rake, c.winners)
        const normalised = payouts.some((n, i) => n !== c.winners[i]!.amount)
        const stacksAfter = c.winners.map((w, i) => this.stack(c.tableId, w.accountId) + payouts[i]!)
        return succeed([...stacksAfter, this.system.rake + rake], (r) => {
          const res = r as { results: ReadonlyArray<Record<string, unknown>> }
          expectFields(c.op, r, { rake, normalised })
          if (res.results.length !== c.winners.length) throw new Error(`Settle: ${res.results.length} results for ${c.winners.length} winners`)
          c.winners.forEach((w, i) =>
            expectFields(`Settle winner ${i}`, res.results[i], { seatId: w.seatId, accountId: w.accountId, amount: payouts[i], newBalance: stacksAfter[i] }))
          c.winners.forEach((w, i) => this.stacks.set(`${c.tableId}/${w.accountId}`, stacksAfter[i]!))
          this.system.rake += rake
          pot.balance = 0
          pot.status = "SETTLED"
        })
      }
      case "Cancel": {
        const pot = this.pots.get(`${c.tableId}/${c.handId}`)
        if (!pot) return refuse("POT_NOT_FOUND")
        const refunds = pot.rows.map((row) => ({ seatId: row.seatId, accountId: row.accountId, amount: row.amount }))
        if (pot.status === "CANCELLED") return { _tag: "Succeeds", accept: (r) => expectFields(c.op, r, { refunds }) }
        if (pot.status !== "ACTIVE") return refuse("POT_NOT_ACTIVE")
        const after = refunds.map((row) => this.stack(c.tableId, row.accountId) + row.amount)
        return succeed(after, (r) => {
          expectFields(c.op, r, { refunds })
          refunds.forEach((row, i) => this.stacks.set(`${c.tableId}/${row.accountId}`, after[i]!))
          pot.balance = 0
          pot.status = "CANCELLED"
        })
      }
      case "CashOut": {
        const w = this.wallets.get(c.accountId)
        if (!w) return refuse("ACCOUNT_NOT_FOUND")
        const stack = this.stack(c.tableId, c.accountId)
        if (stack < c.amount) return refuse("INSUFFICIENT_STACK")
        const balance = w.balance + c.amount
        return succeed([balance], (r) => {
          expectFields(c.op, r, { newBalance: balance, stack: stack - c.amount })
          w.balance = balance
          this.stacks.set(`${c.tableId}/${c.accountId}`, stack - c.amount)
        })
      }
    }
  }

  /** The model's balances, to compare with the store's after each step. */
  books() {
    return {
      wallets: new Map(this.wallets),
      stacks: new Map([...this.stacks].filter(([, n]) => n !== 0)),
      system: { ...this.system }
    }
  }
}

/**
 * README: requests honoured exactly when they sum to what is distributable; otherwise shares in
 * proportion to the requests (all zero: equal), floored, and the odd chips one at a time to the
 * winners in ascending seat order.
 */
const shares = (distributable: number, winners: ReadonlyArray<{ readonly seatId: number; readonly amount: number }>): Array<number> => {
  const requested = winners.reduce((s, w) => s + BigInt(w.amount), 0n)
  if (requested === BigInt(distributable)) return winners.map((w) => w.amount)
  const weight = (w: { amount: number }) => BigInt(requested === 0n ? 1 : w.amount)
  const total = winners.reduce((s, w) => s + weight(w), 0n)
  const out = winners.map((w) => Number((BigInt(distributable) * weight(w)) / total))
  let odd = distributable - out.reduce((s, n) => s + n, 0)
  const bySeat = winners.map((w, i) => [w.seatId, i] as const).sort((a, b) => a[0] - b[0])
  for (let k = 0; odd > 0; k = (k + 1) % bySeat.length, odd--) out[bySeat[k]![1]]! += 1
  return out
}

import type { Message } from "./grpcClient.ts"

/**
 * What a list of acknowledged commands must have done to the books, computed
 * without the service: wallets (balance, held, ledger entries by type),
 * stacks, pots. The chaos tests compare the service's final state with it.
 */

export interface ModelCommand {
  readonly method: string
  readonly request: Message
  /** The answer that acknowledged it (for Reserve: the reservation id). */
  readonly response: Message
  /** What the model needs beyond the request: the player whose contribution a cancel refunds. */
  readonly contributor?: string
}

export interface ExpectedState {
  readonly wallets: Map<string, { balance: number; held: number; entries: Map<string, number> }>
  readonly stacks: Map<string, number>
  readonly pots: Map<string, { balance: number; status: string }>
  readonly reservations: Map<string, { account: string; table: string; amount: number; status: string }>
}

export const stackId = (table: string, account: string) => `${table}|${account}`
export const potId = (table: string, hand: string) => `${table}|${hand}`

export const emptyState = (): ExpectedState => ({ wallets: new Map(), stacks: new Map(), pots: new Map(), reservations: new Map() })

const n = (v: unknown) => Number(v ?? 0)

export const applyToModel = (state: ExpectedState, c: ModelCommand, reservationIdOf: (c: ModelCommand) => string): void => {
  const r = c.request
  const wallet = (id: string) => {
    const w = state.wallets.get(id)
    if (!w) throw new Error(`model: wallet ${id} used before EnsureAccount`)
    return w
  }
  const entry = (id: string, type: string) => {
    const w = wallet(id)
    w.entries.set(type, (w.entries.get(type) ?? 0) + 1)
  }
  const addStack = (table: string, account: string, delta: number) => {
    const k = stackId(table, account)
    const next = (state.stacks.get(k) ?? 0) + delta
    if (next < 0) throw new Error(`model: stack ${k} would go negative`)
    state.stacks.set(k, next)
  }
  switch (c.method) {
    case "EnsureAccount": {
      if (state.wallets.has(r.account_id)) return
      const initial = n(r.initial_balance)
      state.wallets.set(r.account_id, { balance: initial, held: 0, entries: new Map() })
      if (initial > 0) entry(r.account_id, "GRANT")
      return
    }
    case "Deposit":
    case "HttpDeposit": {
      wallet(r.account_id).balance += n(r.amount)
      entry(r.account_id, "DEPOSIT")
      return
    }
    case "ReserveForBuyIn": {
      wallet(r.account_id).held += n(r.amount)
      entry(r.account_id, "HOLD")
      state.reservations.set(c.response.reservation_id, { account: r.account_id, table: r.table_id, amount: n(r.amount), status: "HELD" })
      return
    }
    case "CommitReservation":
    case "ReleaseReservation": {
      const id = reservationIdOf(c)
      const hold = state.reservations.get(id)
      if (!hold) throw new Error(`model: unknown reservation ${id}`)
      if (hold.status !== "HELD") return // a repeat: changes nothing
      const w = wallet(hold.account)
      w.held -= hold.amount
      if (c.method === "CommitReservation") {
        hold.status = "COMMITTED"
        w.balance -= hold.amount
        addStack(hold.table, hold.account, hold.amount)
        entry(hold.account, "BUY_IN")
      } else {
        hold.status = "RELEASED"
        entry(hold.account, "RELEASE")
      }
      return
    }
    case "RecordContribution": {
      addStack(r.table_id, r.account_id, -n(r.amount))
      const k = potId(r.table_id, r.hand_id)
      const pot = state.pots.get(k) ?? { balance: 0, status: "ACTIVE" }
      pot.balance += n(r.amount)
      state.pots.set(k, pot)
      return
    }
    case "SettlePot": {
      const pot = state.pots.get(potId(r.table_id, r.hand_id))!
      const paid = (r.winners as Array<Message>).reduce((s, w) => s + n(w.amount), 0)
      if (paid !== pot.balance) throw new Error("model: the workload pays out exactly the pot")
      for (const w of r.winners as Array<Message>) addStack(r.table_id, w.account_id, n(w.amount))
      pot.balance = 0
      pot.status = "SETTLED"
      return
    }
    case "CancelPot": {
      // The workload's pots have one contributor: the refund goes back to the stack of the hand's player.
      const pot = state.pots.get(potId(r.table_id, r.hand_id))!
      addStack(r.table_id, c.contributor!, pot.balance)
      pot.balance = 0
      pot.status = "CANCELLED"
      return
    }
    case "ProcessCashOut": {
      addStack(r.table_id, r.account_id, -n(r.amount))
      wallet(r.account_id).balance += n(r.amount)
      entry(r.account_id, "CASH_OUT")
      return
    }
    default:
      throw new Error(`model: no rule for ${c.method}`)
  }
}

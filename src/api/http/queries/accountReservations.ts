import { Effect } from "effect"
import { walletKey, type ReservationState, type WalletState } from "../../../domain/accounts.ts"
import type { Ledger } from "../../../ledger/Ledger.ts"

type Status = ReservationState["status"]

const WINDOW = 500
/** Entries one request may read looking for reservations. */
export const RESERVATION_SCAN_BUDGET = 20_000

const CLOSING: Readonly<Record<string, Status>> = { BUY_IN: "COMMITTED", RELEASE: "RELEASED", EXPIRE: "EXPIRED" }

/**
 * Held and recent reservations of one wallet. The store keeps no per-account
 * reservation index, so this reads the wallet's own ledger backwards (HOLD,
 * BUY_IN, RELEASE and EXPIRE entries name their reservation in `parent`) and
 * infers each status from its newest entry. It keeps reading until it has
 * `limit` matches and the HELD ones it found add up to the wallet's `held`,
 * so every held reservation is listed however old it is (bounded by
 * RESERVATION_SCAN_BUDGET). Only the returned ones are loaded.
 */
export const accountReservations = Effect.fnUntraced(function*(
  ledger: Ledger["Service"],
  wallet: WalletState,
  options: { readonly status?: Status; readonly limit: number }
) {
  const key = walletKey(wallet.accountId)
  const statusById = new Map<string, Status>()
  const order: Array<string> = []
  let heldFound = 0
  let end = wallet.seq
  const matches = () => order.filter((id) => options.status === undefined || statusById.get(id) === options.status).length
  while (end > 0 && wallet.seq - end < RESERVATION_SCAN_BUDGET) {
    const start = Math.max(0, end - WINDOW)
    const entries = yield* ledger.entries(key, start, end - start)
    for (let i = entries.length - 1; i >= 0; i--) {
      const e = entries[i]!
      if (!e.parent.startsWith("reservation:")) continue
      const id = e.parent.slice("reservation:".length)
      if (statusById.has(id)) continue
      if (e.type === "HOLD") {
        statusById.set(id, "HELD")
        heldFound += e.heldDelta
      } else if (CLOSING[e.type] !== undefined) {
        statusById.set(id, CLOSING[e.type]!)
      } else {
        continue
      }
      order.push(id)
    }
    end = start
    if (heldFound >= wallet.held && matches() >= options.limit) break
  }
  const wanted = order.filter((id) => options.status === undefined || statusById.get(id) === options.status)
  const held = wanted.filter((id) => statusById.get(id) === "HELD")
  const chosen = [...new Set([...held, ...wanted.slice(0, options.limit)])].slice(0, Math.max(options.limit, held.length))
  const loaded = yield* Effect.forEach(chosen, (id) => ledger.reservation(id), { concurrency: 8 })
  return loaded
    .flatMap((o) => (o.value === null ? [] : [o.value]))
    .sort((a, b) => b.createdAt - a.createdAt)
})

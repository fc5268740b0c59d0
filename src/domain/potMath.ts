/**
 * Pure pot arithmetic: rake, splitting a pot among winners, main and side pots.
 * Products use BigInt so that pots near Number.MAX_SAFE_INTEGER never round.
 */

export interface RakeRules {
  /** Rake in basis points of the pot (0 = no rake). */
  readonly basisPoints: number
  /** Largest rake taken from one pot (0 = uncapped). */
  readonly capChips: number
  /** Pots at or below this size pay no rake. */
  readonly minPotChips: number
}

export const NO_RAKE: RakeRules = { basisPoints: 0, capChips: 0, minPotChips: 0 }

export const computeRake = (pot: number, rules: RakeRules): number => {
  if (pot <= 0 || rules.basisPoints <= 0 || pot <= rules.minPotChips) return 0
  const raw = Number((BigInt(pot) * BigInt(rules.basisPoints)) / 10_000n)
  return rules.capChips > 0 ? Math.min(raw, rules.capChips) : raw
}

export interface SplitRequest {
  readonly seatId: number
  readonly requested: number
}

export interface Split {
  /** Amounts in the order of the requests. */
  readonly amounts: ReadonlyArray<number>
  /** True when the requests did not sum to the distributable amount and were scaled. */
  readonly normalised: boolean
}

/**
 * Requests are honoured exactly when they sum to `distributable`. Otherwise each
 * winner gets floor(distributable * requested / total) and the odd chips go one
 * at a time to the winners in ascending seat order. All-zero requests split evenly.
 */
export const splitPot = (distributable: number, requests: ReadonlyArray<SplitRequest>): Split => {
  if (requests.length === 0) return { amounts: [], normalised: distributable !== 0 }
  const total = requests.reduce((s, r) => s + BigInt(r.requested), 0n)
  if (total === BigInt(distributable)) return { amounts: requests.map((r) => r.requested), normalised: false }
  const weights = total === 0n ? requests.map(() => 1n) : requests.map((r) => BigInt(r.requested))
  const weightSum = weights.reduce((a, b) => a + b, 0n)
  const amounts = weights.map((w) => Number((BigInt(distributable) * w) / weightSum))
  let leftover = distributable - amounts.reduce((a, b) => a + b, 0)
  const bySeat = requests.map((r, i) => ({ seatId: r.seatId, i })).sort((a, b) => a.seatId - b.seatId || a.i - b.i)
  for (let k = 0; leftover > 0; k = (k + 1) % bySeat.length, leftover--) amounts[bySeat[k]!.i]! += 1
  return { amounts, normalised: true }
}

export interface Contribution {
  readonly seatId: number
  readonly amount: number
}

export interface PotLayer {
  readonly amount: number
  /** Seats that can win this pot (contributed up to its level and did not fold), ascending. */
  readonly eligibleSeats: ReadonlyArray<number>
}

/**
 * Main pot first, then side pots. Each distinct contribution level of a live
 * (not folded) seat closes a layer; folded chips count toward the layers they
 * reach but their seats are never eligible. Adjacent layers with the same
 * eligible seats are merged.
 */
export const calculatePots = (
  contributions: ReadonlyArray<Contribution>,
  folded: ReadonlyArray<number>
): ReadonlyArray<PotLayer> => {
  const perSeat = new Map<number, number>()
  for (const c of contributions) perSeat.set(c.seatId, (perSeat.get(c.seatId) ?? 0) + c.amount)
  const foldedSet = new Set(folded)
  const live = [...perSeat].filter(([seat, amt]) => !foldedSet.has(seat) && amt > 0)
  const total = [...perSeat.values()].reduce((a, b) => a + b, 0)
  if (total === 0) return []
  const levels = [...new Set(live.map(([, amt]) => amt))].sort((a, b) => a - b)
  if (levels.length === 0) return [{ amount: total, eligibleSeats: [] }]
  const layers: Array<{ amount: number; eligibleSeats: Array<number> }> = []
  let previous = 0
  for (const [index, level] of levels.entries()) {
    const isLast = index === levels.length - 1
    let amount = 0
    for (const amt of perSeat.values()) {
      const upper = isLast ? amt : Math.min(amt, level)
      amount += Math.max(0, upper - previous)
    }
    const eligibleSeats = live.filter(([, amt]) => amt >= level).map(([seat]) => seat).sort((a, b) => a - b)
    const last = layers[layers.length - 1]
    if (last && sameSeats(last.eligibleSeats, eligibleSeats)) last.amount += amount
    else if (amount > 0) layers.push({ amount, eligibleSeats })
    previous = level
  }
  return layers
}

const sameSeats = (a: ReadonlyArray<number>, b: ReadonlyArray<number>) =>
  a.length === b.length && a.every((s, i) => s === b[i])

import type { BalanceClient } from "../BalanceClient.ts"
import { type Decision, type GameBalance, isAllowed } from "../game/GameBalance.ts"

/**
 * A poker table as a game server drives it, reduced to its chip movements:
 * buy-in, blinds, calls or folds, one winner per hand (every 7th hand a
 * misdeal, cancelled), cash-out at the end. Deterministic for a seed, so two
 * runs (one with an outage) can be compared book for book. It is the runnable
 * example of the integration and a load source (`balance-table-sim`).
 *
 * The game keeps its own count of each stack (the "legacy view") and goes on
 * whenever the decision allows it: `applied`, `permitted-offline`, or `legacy`
 * (off / shadow). A refused movement does not happen: a refused buy-in keeps
 * the player out, a refused bet folds the player.
 */
export interface SimulationSettings {
  readonly prefix: string
  readonly tables: number
  readonly playersPerTable: number
  readonly hands: number
  readonly seed: number
  readonly buyIn: number
  readonly smallBlind: number
  /** Pause between hands (a table's pace; lets an outage fall in the middle of a run). */
  readonly handDelayMs: number
}

export const DEFAULT_SIMULATION: SimulationSettings = {
  prefix: "sim",
  tables: 2,
  playersPerTable: 3,
  hands: 6,
  seed: 1,
  buyIn: 200,
  smallBlind: 5,
  handDelayMs: 0
}

export interface SimulationResult {
  /** The game's own count of every stack at the end (before cash-out) and what it cashed out. */
  readonly cashedOut: Readonly<Record<string, number>>
  readonly decisions: Readonly<Record<Decision["decision"], number>>
  readonly hands: number
}

/** mulberry32: small, seedable, good enough to pick folds and winners. */
const prng = (seed: number) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export const tableIdOf = (s: SimulationSettings, t: number) => `${s.prefix}-t${t}`
export const playerIdOf = (s: SimulationSettings, t: number, i: number) => `${s.prefix}-t${t}-p${i}`

/** Creates the wallets the tables need (an operator action: needs the admin credential on a secured service). */
export const seedWallets = async (client: BalanceClient, s: SimulationSettings, chips: number): Promise<void> => {
  for (let t = 0; t < s.tables; t++) {
    for (let i = 0; i < s.playersPerTable; i++) {
      await client.checked("EnsureAccount", { account_id: playerIdOf(s, t, i), initial_balance: chips })
    }
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

export const runSimulation = async (
  game: GameBalance,
  settings: Partial<SimulationSettings> = {},
  print: (line: string) => void = () => {}
): Promise<SimulationResult> => {
  const s = { ...DEFAULT_SIMULATION, ...settings }
  const decisions: Record<Decision["decision"], number> = { applied: 0, refused: 0, "permitted-offline": 0, legacy: 0 }
  const cashedOut: Record<string, number> = {}
  let handsPlayed = 0
  const note = (d: Decision) => {
    decisions[d.decision]++
    return d
  }
  const tag = (d: Decision) => (d.decision === "permitted-offline" ? `offline(${d.cause})` : d.decision === "refused" ? `REFUSED ${d.code}` : d.decision)

  const table = async (t: number) => {
    const random = prng(s.seed * 1000 + t)
    const tableId = tableIdOf(s, t)
    const stacks = new Map<number, { accountId: string; stack: number }>()
    for (let i = 0; i < s.playersPerTable; i++) {
      const accountId = playerIdOf(s, t, i)
      const d = note(await game.buyIn({ tableId, accountId, amount: s.buyIn, key: `${tableId}:buyin:${accountId}` }, { stackAfter: s.buyIn }))
      print(`${tableId} buy-in ${accountId} ${s.buyIn}: ${tag(d)}`)
      if (isAllowed(d)) stacks.set(i, { accountId, stack: s.buyIn })
    }
    for (let h = 1; h <= s.hands; h++) {
      const handId = `h${h}`
      let seq = 0
      const key = () => `${tableId}:${handId}:${++seq}`
      const seated = [...stacks.entries()].filter(([, p]) => p.stack >= 2 * s.smallBlind)
      if (seated.length < 2) break
      const contributed = new Map<number, number>()
      const inHand = new Set<number>()
      const bet = async (seat: number, amount: number, type: string) => {
        const p = stacks.get(seat)!
        const d = note(await game.contribute(
          { tableId, handId, seatId: seat, accountId: p.accountId, amount, type, key: key() },
          { stackAfter: p.stack - amount }
        ))
        if (!isAllowed(d)) return d
        p.stack -= amount
        contributed.set(seat, (contributed.get(seat) ?? 0) + amount)
        return d
      }
      // Blinds from the first two seated players (rotating), then each other player calls or folds.
      const order = seated.map(([seat]) => seat)
      const rot = (h - 1) % order.length
      const rotated = [...order.slice(rot), ...order.slice(0, rot)]
      const outcomes: Array<string> = []
      for (const [i, seat] of rotated.entries()) {
        const amount = i === 0 ? s.smallBlind : 2 * s.smallBlind
        const fold = i >= 2 && random() < 0.3
        if (fold) continue
        const d = await bet(seat, amount, i === 0 ? "BLIND" : i === 1 ? "BLIND" : "CALL")
        outcomes.push(tag(d))
        if (isAllowed(d)) inHand.add(seat)
      }
      // The small blind completes, and a second round of bets among those still in.
      if (inHand.has(rotated[0]!)) outcomes.push(tag(await bet(rotated[0]!, s.smallBlind, "CALL")))
      for (const seat of [...inHand]) {
        if (random() < 0.25 && inHand.size > 1) {
          inHand.delete(seat)
          continue
        }
        const p = stacks.get(seat)!
        const amount = Math.min(p.stack, 10 * (1 + Math.floor(random() * 3)))
        if (amount > 0) {
          const d = await bet(seat, amount, "BET")
          outcomes.push(tag(d))
          if (!isAllowed(d)) inHand.delete(seat)
        }
      }
      const pot = [...contributed.values()].reduce((a, b) => a + b, 0)
      if (pot === 0) continue
      handsPlayed++
      if (h % 7 === 0 || inHand.size === 0) {
        const d = note(await game.cancel({ tableId, handId, reason: "misdeal", key: key() }))
        if (isAllowed(d)) for (const [seat, amount] of contributed) stacks.get(seat)!.stack += amount
        print(`${tableId} ${handId}: pot ${pot} cancelled (misdeal): ${tag(d)}`)
      } else {
        const contenders = [...inHand]
        const winnerSeat = contenders[Math.floor(random() * contenders.length)]!
        const winner = stacks.get(winnerSeat)!
        const d = note(await game.settle(
          { tableId, handId, winners: [{ seatId: winnerSeat, accountId: winner.accountId, amount: pot }], key: key() },
          { stacksAfter: { [winner.accountId]: winner.stack + pot } }
        ))
        if (isAllowed(d)) winner.stack += pot
        print(`${tableId} ${handId}: pot ${pot} -> ${winner.accountId}: ${tag(d)}; bets ${outcomes.join(", ")}`)
      }
      if (s.handDelayMs > 0) await sleep(s.handDelayMs)
    }
    for (const [seat, p] of stacks) {
      if (p.stack === 0) continue
      const d = note(await game.cashOut({ tableId, accountId: p.accountId, seatId: seat, amount: p.stack, key: `${tableId}:cashout:${p.accountId}` }, { stackAfter: 0 }))
      print(`${tableId} cash-out ${p.accountId} ${p.stack}: ${tag(d)}`)
      if (isAllowed(d)) cashedOut[p.accountId] = p.stack
    }
  }

  await Promise.all(Array.from({ length: s.tables }, (_, t) => table(t)))
  return { cashedOut, decisions, hands: handsPlayed }
}

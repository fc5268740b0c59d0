import type { Supply } from "../../../ledger/Ledger.ts"
import type { VerificationReport } from "../../../ledger/LedgerVerifier.ts"
import { iso } from "../schemas/CommonSchemas.ts"

/**
 * The chip supply from the system accounts. Every chip enters through mint and
 * leaves through burn or rake, and all balances sum to 0, so:
 *   mint = -(chips ever issued)   (it goes negative as chips are issued)
 *   burn = chips ever removed, rake = house commission
 *   circulation (wallets + stacks + pots) = -(mint + burn + rake) = minted - burned - raked
 * The minted/burned/raked counters are kept separately, per transfer, in the
 * same atomic write; `zeroSum` requires them to agree with the balances, and
 * the last whole-ledger verification (which sums every stored balance) to
 * have found 0.
 */
export const supplyReport = (supply: Supply, last: VerificationReport | null) => {
  const { mint, burn, rake } = supply.system
  const minted = -mint
  const burned = burn
  const raked = rake
  const circulation = minted - burned - raked
  const stats = supply.stats
  const countersAgree = (stats.minted ?? 0) === minted && (stats.burned ?? 0) === burned && (stats.raked ?? 0) === raked
  const byType: Record<string, number> = {}
  for (const [name, value] of Object.entries(stats)) {
    if (name.startsWith("by_type:") && value !== undefined) byType[name.slice("by_type:".length)] = value
  }
  const lastFull = last === null || last.mode === "account" ? null : last
  return {
    minted,
    burned,
    raked,
    circulation,
    held: stats.held ?? 0,
    byType,
    system: { mint, burn, rake },
    zeroSum: mint + burn + rake + circulation === 0 && countersAgree && (lastFull === null || lastFull.totalBalance === null || lastFull.totalBalance === 0),
    lastVerification: lastFull === null
      ? null
      : { finishedAt: iso(lastFull.finishedAt), ok: lastFull.ok, totalBalance: lastFull.totalBalance }
  }
}

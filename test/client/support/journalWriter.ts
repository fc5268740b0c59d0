/**
 * A game process for the crash test: enforce mode against an address where
 * nothing listens, so every buy-in is permitted offline and journaled. Prints
 * `acked <key>` once the game has been told it may go on (the journal line is
 * fsync'ed by then), and keeps going until it is killed.
 *
 *   node test/client/support/journalWriter.ts write <journalDir> <deadAddress> <prefix>
 *
 * `replay` mode is the restarted game against the live service: it replays the
 * journal, and is killed in the middle of that too.
 *
 *   node test/client/support/journalWriter.ts replay <journalDir> <liveAddress>
 */
import { GameBalance } from "../../../client/src/index.ts"

const [mode, journalDir, address, prefix] = process.argv.slice(2)
if (!journalDir || !address || (mode !== "replay" && (mode !== "write" || !prefix))) {
  throw new Error("usage: journalWriter.ts write <journalDir> <deadAddress> <prefix> | replay <journalDir> <liveAddress>")
}

if (mode === "replay") {
  const replaying = new GameBalance({ client: { addresses: [address], healthCheck: false }, mode: "enforce", journalDir, replayIntervalMs: 3_600_000, logger: () => {} })
  process.stdout.write(`pending ${replaying.stats().journal.pending}\n`)
  const pass = await replaying.replayPending()
  process.stdout.write(`replayed ${pass.applied}\n`)
  process.exit(0)
}

const game = new GameBalance({
  client: {
    addresses: [address],
    healthCheck: false,
    attemptTimeoutMs: 200,
    callTimeoutMs: 400,
    retry: { maxAttempts: 1 },
    breaker: { failureThreshold: 1, openMs: 60_000 }
  },
  mode: "enforce",
  journalDir,
  replayIntervalMs: 3_600_000,
  logger: () => {}
})

for (let i = 0; ; i++) {
  const key = `${prefix}-k${i}`
  const d = await game.buyIn({ tableId: `${prefix}-t${i % 3}`, accountId: `${prefix}-p${i % 5}`, amount: 10, key })
  if (d.decision !== "permitted-offline") throw new Error(`expected permitted-offline, got ${JSON.stringify(d)}`)
  process.stdout.write(`acked ${key}\n`)
}

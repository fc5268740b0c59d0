import { assert, describe, it } from "@effect/vitest"
import type { Command } from "../../src/domain/commands.ts"
import { fingerprint } from "../../src/domain/fingerprint.ts"
import { entryChecksum, type UnsignedEntry } from "../../src/domain/ledgerEntry.ts"

/**
 * Stored data holds these hashes (idempotency records the fingerprint, every ledger entry its
 * checksum), so their text must never change, however it is built: the values below were made
 * by the first implementation (map/filter/join, createHash) and stay as they are.
 */
describe("fingerprint and entry checksum never change", () => {
  it("fingerprints: sorted keys, undefined fields left out, nested winners, escaped text, field order irrelevant", () => {
    const pinned: ReadonlyArray<readonly [Command, string]> = [
      [
        { op: "Contribute", tableId: "table-1", handId: "hand-7", seatId: 3, accountId: "acct-12", amount: 250, contributionType: "BET", idempotencyKey: "bet-1" },
        "47b614f9f385dab99b43ef424257d3268a92e6e89b1d4ca32516442868786a29"
      ],
      [
        {
          op: "Settle", tableId: "table-1", handId: "hand-7", idempotencyKey: "settle-1",
          winners: [{ seatId: 3, accountId: "acct-12", amount: 0 }, { seatId: 5, accountId: "acct-9", amount: 120 }]
        },
        "28950b9e28a3cbc1e7d373a6d50d8c2be119cbad36dd52bba053ce5b1672679f"
      ],
      [
        { op: "CashOut", accountId: "jos\u00e9 \"q\"", tableId: "t\u2028", seatId: 1, amount: 9007199254740991, idempotencyKey: "k", handId: undefined } as unknown as Command,
        "c1072d3650fc428249fe9438c9f75df0a2b65f12588cdf2078eecd78d957b153"
      ],
      [
        { idempotencyKey: "z", op: "Reserve", accountId: "a", tableId: "t", amount: 1, timeoutMs: 0 },
        "bf171ac189e99635f1bfbcd4cd4b0bae17a6e8d8a24fcae78564343c4379b6bd"
      ]
    ]
    for (const [command, expected] of pinned) assert.strictEqual(fingerprint(command), expected, JSON.stringify(command))
  })

  it("entry checksums: SHA-256, and HMAC-SHA-256 with a key", () => {
    const entry: UnsignedEntry = {
      entryId: "e-1", accountId: "wallet:acct-12", seq: 4, transferId: "tr-9", type: "CONTRIBUTION", amount: -250, balanceBefore: 1000,
      balanceAfter: 750, heldDelta: 0, heldAfter: 0, parent: "pot:table-1:hand-7", metadata: { seat: "3", hand: "hand-7" },
      timestamp: 1765000000000, previousChecksum: "GENESIS"
    }
    assert.strictEqual(entryChecksum(entry, undefined), "bf0992852a9009c67cdcfed464256912cef00f4d828806147190207dcde82d76")
    assert.strictEqual(entryChecksum(entry, "secret"), "d5bc03e33e4f865f9aadee91da9473900e80740dad753feda30424dca4d21ef7")
  })
})

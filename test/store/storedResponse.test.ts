import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import { compactFingerprint, hexFingerprint, sameFingerprint } from "../../src/domain/fingerprint.ts"
import { decodeStoredResponse, encodeStoredResponse, RESPONSE_FIELD_CODES } from "../../src/store/redis/storedResponse.ts"
import { fingerprintOf } from "../support/fingerprints.ts"

/** Response-like values: known and unknown field names (some one character, some starting with "_" or "~"), UUIDs, "~" strings. */
const fieldName = fc.oneof(
  fc.constantFrom(...Object.keys(RESPONSE_FIELD_CODES)),
  fc.constantFrom("a", "_", "_x", "~", "z", "p", "unknownField", "__proto__x"),
  fc.string({ maxLength: 6 })
)
const text = fc.oneof(fc.uuid(), fc.constantFrom("~", "~~", "~abc", "", "|", "\"", "\\"), fc.string({ maxLength: 12 }),
  fc.uuid().map((u) => u.toUpperCase()), fc.uuid().map((u) => `~${u}`))
const scalar = fc.oneof(text, fc.maxSafeInteger(), fc.boolean(), fc.constant(null))
const response = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: "small" }, scalar, tie("object"), fc.array(tie("value"), { maxLength: 3 })),
  object: fc.dictionary(fieldName, tie("value"), { maxKeys: 5 })
})).object

describe("stored responses (compact idempotency records)", () => {
  it("give back exactly the JSON the first call answered, for any response-like object", () => {
    fc.assert(fc.property(response, (value) => {
      const stored = encodeStoredResponse(value)
      assert.strictEqual(stored[0], "~")
      assert.strictEqual(decodeStoredResponse(stored), JSON.stringify(value))
    }), { numRuns: 2_000 })
  })

  it("leave fields that are undefined out, as JSON does", () => {
    const value = { transactionId: "x", newBalance: undefined, stack: 3 }
    assert.strictEqual(decodeStoredResponse(encodeStoredResponse(value)), JSON.stringify(value))
  })

  it("read a response stored as plain JSON (hash records, earlier compact records) as it is", () => {
    const json = JSON.stringify({ transactionId: "7d0e3c1a-1111-4222-8333-944455556666", newBalance: 5 })
    assert.strictEqual(decodeStoredResponse(json), json)
  })

  it("pin every field's code: records live 24 h across deploys, so a code never changes meaning", () => {
    assert.deepStrictEqual(RESPONSE_FIELD_CODES, {
      transactionId: "a", accountId: "b", amount: "c", balance: "d", availableBalance: "e", created: "f", reservationId: "g",
      expiresAt: "h", newBalance: "i", status: "j", expired: "k", lateByMs: "l", totalPot: "m", seatContribution: "n", stack: "o",
      results: "p", seatId: "q", rake: "r", normalised: "s", refunds: "t"
    })
  })

  it("are about half the JSON for a buy-in's answer", () => {
    const answer = { reservationId: "537fa373-de54-4408-852c-82166f698b0c", availableBalance: 1_049_000, expiresAt: 1_796_588_062_584 }
    assert.isAtMost(encodeStoredResponse(answer).length, JSON.stringify(answer).length * 0.6)
  })
})

describe("compact fingerprints", () => {
  it("keep the compared 128 bits in 22 characters, and read back as the same fingerprint", () => {
    fc.assert(fc.property(fc.string(), fc.string(), (a, b) => {
      const fa = fingerprintOf(a)
      const compact = compactFingerprint(fa)
      assert.strictEqual(compact.length, 22)
      assert.match(compact, /^[A-Za-z0-9_-]{22}$/)
      assert.isTrue(sameFingerprint(hexFingerprint(compact), fa))
      assert.strictEqual(sameFingerprint(hexFingerprint(compact), fingerprintOf(b)), a === b)
    }), { numRuns: 500 })
  })
})

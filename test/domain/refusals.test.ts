import { assert, describe, it } from "@effect/vitest"
import { REFUSALS, RefusalCode } from "../../src/domain/errors.ts"

/** What each gRPC status means over HTTP: the two APIs must tell a caller the same thing. */
const HTTP_OF_GRPC = {
  INVALID_ARGUMENT: [400],
  NOT_FOUND: [404],
  ALREADY_EXISTS: [409],
  FAILED_PRECONDITION: [422],
  OUT_OF_RANGE: [422]
} as const

describe("the refusal table", () => {
  it("has one row per refusal code, in the order clients were given the codes", () => {
    assert.deepStrictEqual(Object.keys(REFUSALS), [...RefusalCode.literals])
  })

  it("gives every code a gRPC status that says what its HTTP status says", () => {
    for (const code of RefusalCode.literals) {
      const row = REFUSALS[code]
      assert.include(HTTP_OF_GRPC[row.grpc] as ReadonlyArray<number>, row.http, code)
    }
  })

  it("calls a code fixed by the request alone only if it is an input error (400)", () => {
    for (const code of RefusalCode.literals) {
      if (!REFUSALS[code].transient) assert.strictEqual(REFUSALS[code].http, 400, code)
    }
    // Input codes that a pot's seats decide: reading again may change them.
    assert.isTrue(REFUSALS.INVALID_SEAT_ID.transient)
    assert.isTrue(REFUSALS.INVALID_WINNERS.transient)
    assert.isFalse(REFUSALS.INVALID_TIMEOUT.transient)
  })
})

import { status } from "@grpc/grpc-js"
import { assert, describe, it } from "@effect/vitest"
import { Cause } from "effect"
import { answerFailure } from "../../src/api/grpc/mapFailure.ts"
import { REFUSALS, RefusalCode, refuse } from "../../src/domain/errors.ts"

describe("gRPC answer of each refusal", () => {
  it("every code, in band: ok=false with the code and message", () => {
    for (const code of RefusalCode.literals) {
      const answer = answerFailure(Cause.fail(refuse(code, `because ${code}`)), "inBand")
      assert.deepStrictEqual(answer, { _tag: "Reply", response: { ok: false, error: code, errorMessage: `because ${code}` } })
    }
  })

  it("every code, as a status: the status its row names, the code in the details", () => {
    for (const code of RefusalCode.literals) {
      const answer = answerFailure(Cause.fail(refuse(code, "why")), "status")
      assert.deepStrictEqual(answer, { _tag: "Status", status: { code: status[REFUSALS[code].grpc], details: `${code}: why` } })
    }
  })

  it("the statuses are the ones callers were given before the table existed", () => {
    const statusOf = (code: RefusalCode) => REFUSALS[code].grpc
    assert.strictEqual(statusOf("INVALID_AMOUNT"), "INVALID_ARGUMENT")
    assert.strictEqual(statusOf("MISSING_IDEMPOTENCY_KEY"), "INVALID_ARGUMENT")
    assert.strictEqual(statusOf("ACCOUNT_NOT_FOUND"), "NOT_FOUND")
    assert.strictEqual(statusOf("POT_NOT_FOUND"), "NOT_FOUND")
    assert.strictEqual(statusOf("AMOUNT_OVERFLOW"), "OUT_OF_RANGE")
    assert.strictEqual(statusOf("IDEMPOTENCY_KEY_REUSED"), "ALREADY_EXISTS")
    assert.strictEqual(statusOf("INSUFFICIENT_BALANCE"), "FAILED_PRECONDITION")
    assert.strictEqual(statusOf("RESERVATION_EXPIRED"), "FAILED_PRECONDITION")
  })
})

import { assert, describe, it } from "@effect/vitest"
import { apiErrorStatus } from "../../src/api/http/ApiErrors.ts"
import { fromRefusal } from "../../src/api/http/refusalStatus.ts"
import { REFUSALS, RefusalCode, refuse } from "../../src/domain/errors.ts"

describe("HTTP answer of each refusal", () => {
  it("every code: the status of its row, the code itself, the offending field", () => {
    for (const code of RefusalCode.literals) {
      const error = fromRefusal(refuse(code, `because ${code}`, "amount"))
      assert.strictEqual(apiErrorStatus(error), REFUSALS[code].http, code)
      assert.strictEqual(error.error, code)
      assert.strictEqual(error.message, `because ${code}`)
      assert.deepStrictEqual(error.details, { field: "amount" })
    }
  })
})

import { assert, describe, it, layer } from "@effect/vitest"
import * as grpc from "@grpc/grpc-js"
import { Effect } from "effect"
import { ADMIN_METHODS } from "../../src/api/grpc/callAuth.ts"
import { GrpcServerAddress } from "../../src/api/grpc/GrpcServer.ts"
import { wireFormatProblem } from "../../src/api/grpc/strictDeserialize.ts"
import { MemoryStore } from "../../src/store/memory/MemoryStore.ts"
import { call } from "./support/expectations.ts"
import { grpcServerOn } from "./support/grpcTestServer.ts"
import { loadClientPackage, type Message, TEST_ADMIN_KEY } from "./support/balanceClient.ts"

/** The operator's credential on the admin methods (Deposit needs it), none on the game's. */
const adminMetadata = (method: string) => {
  const metadata = new grpc.Metadata()
  if (ADMIN_METHODS.has(method)) metadata.set("x-admin-key", TEST_ADMIN_KEY)
  return metadata
}

/** Sends `bytes` as the request of `method`, as a client with a broken encoder would. */
const sendRaw = (method: string, bytes: Uint8Array) =>
  Effect.gen(function*() {
    const { port } = yield* GrpcServerAddress
    const pkg = loadClientPackage()
    const responseDeserialize = (pkg.balance.BalanceService.service as grpc.ServiceDefinition)[method]!.responseDeserialize
    const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure())
    return yield* Effect.callback<{ readonly response?: Message; readonly status?: grpc.ServiceError }>((resume) => {
      client.makeUnaryRequest(
        `/balance.BalanceService/${method}`,
        (b: Buffer) => b,
        responseDeserialize as (b: Buffer) => Message,
        Buffer.from(bytes),
        adminMetadata(method),
        { deadline: Date.now() + 5_000 },
        (error, response) => {
          client.close()
          resume(Effect.succeed(error ? { status: error } : { response: response as Message }))
        }
      )
    })
  })

// Deposit: 1 account_id "dp", 2 amount 7, 3 idempotency_key claiming 100 bytes but carrying "abc".
const TRUNCATED_DEPOSIT = [0x0a, 0x02, 0x64, 0x70, 0x10, 0x07, 0x1a, 0x64, 0x61, 0x62, 0x63]
const GARBAGE = [0xff, 0xff, 0xff, 0xff]

describe("wireFormatProblem", () => {
  it("accepts well-formed messages and names what is wrong with the others", () => {
    assert.isUndefined(wireFormatProblem(new Uint8Array([])))
    assert.isUndefined(wireFormatProblem(new Uint8Array([0x0a, 0x02, 0x64, 0x70, 0x10, 0x07])))
    assert.strictEqual(wireFormatProblem(new Uint8Array(TRUNCATED_DEPOSIT)), "field 3 runs past the end of the message")
    assert.strictEqual(wireFormatProblem(new Uint8Array(GARBAGE)), "truncated field tag at byte 0")
    assert.strictEqual(wireFormatProblem(new Uint8Array([0x10, 0x80])), "field 2: truncated varint")
    assert.strictEqual(wireFormatProblem(new Uint8Array([0x0b])), "field 1: unsupported wire type 3")
    assert.strictEqual(wireFormatProblem(new Uint8Array([0x09, 1, 2, 3])), "field 1 runs past the end of the message")
  })
})

layer(grpcServerOn(MemoryStore.layer), { excludeTestServices: true })("requests that are not well-formed protobuf", (it) => {
  it.effect("are refused as INVALID_ARGUMENT (in-band where refusals are) and change nothing", () =>
    Effect.gen(function*() {
      yield* call("EnsureAccount", { account_id: "dp", initial_balance: "10" })

      const truncated = yield* sendRaw("Deposit", new Uint8Array(TRUNCATED_DEPOSIT))
      assert.deepInclude(truncated.response, { ok: false, error: "INVALID_ARGUMENT" })
      assert.include(truncated.response!.error_message, "field 3 runs past the end of the message")

      // ReserveForBuyIn answers every refusal in-band: the game reads any status as "balance service down".
      const reserve = yield* sendRaw("ReserveForBuyIn", new Uint8Array(GARBAGE))
      assert.deepInclude(reserve.response, { ok: false, error: "INVALID_ARGUMENT" })

      const balance = yield* sendRaw("GetBalance", new Uint8Array(GARBAGE))
      assert.strictEqual(balance.status?.code, grpc.status.INVALID_ARGUMENT)

      assert.deepInclude(yield* call("GetBalance", { account_id: "dp" }), { balance: "10", version: "1" })
    }))
})

import { assert } from "@effect/vitest"
import type * as grpc from "@grpc/grpc-js"
import { Effect } from "effect"
import { eventuallyEffect } from "../../support/eventually.ts"
import { BalanceClient, type Message } from "./balanceClient.ts"

export const call = (method: string, request: Message, headers?: Readonly<Record<string, string>>) =>
  BalanceClient.use((c) => c.call(method, request, headers))

/** The call must answer ok=true; returns the response. */
export const ok = (method: string, request: Message) =>
  Effect.tap(call(method, request), (r) =>
    Effect.sync(() => assert.isTrue(r.ok, `${method} refused: ${r.error} ${r.error_message}`))
  )

/** The call must be refused in-band (ok=false, no gRPC error); returns the code. */
export const refusedWith = (method: string, request: Message) =>
  Effect.map(call(method, request), (r) => {
    assert.isFalse(r.ok, `${method} should have been refused`)
    assert.notStrictEqual(r.error, "")
    return r.error as string
  })

/** The call must fail with a gRPC status; returns it. */
export const statusOf = (method: string, request: Message, headers?: Readonly<Record<string, string>>) =>
  Effect.flip(call(method, request, headers)).pipe(Effect.map((e: grpc.ServiceError) => ({ code: e.code, details: e.details })))

/** Waits until `check` holds (test/support/eventually.ts), failing with `what` after `timeoutMs`. */
export const eventually = <E, R>(what: string, check: Effect.Effect<boolean, E, R>, timeoutMs = 10_000) =>
  Effect.asVoid(eventuallyEffect(what, check, { timeoutMs }))

export const TWO_POW_53 = "9007199254740992"
export const TWO_POW_63_MINUS_1 = "9223372036854775807"
export const MAX_SAFE = "9007199254740991"

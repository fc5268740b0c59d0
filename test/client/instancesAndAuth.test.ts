import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, assert, describe, it, layer } from "@effect/vitest"
import * as grpc from "@grpc/grpc-js"
import { Context, Effect, Exit, Layer, Redacted, Scope } from "effect"
import { BalanceGateway } from "../../client/src/effect.ts"
import { BalanceCallError, BalanceClient, BalanceRefusal, BalanceUnavailable, GameBalance } from "../../client/src/index.ts"
import { GrpcServerAddress, grpcServerLayerWith } from "../../src/api/grpc/GrpcServer.ts"
import { freePort } from "../../src/childProcess/serverChild.ts"
import { MemoryStore } from "../../src/store/memory/MemoryStore.ts"
import { TEST_ADMIN_KEY, testServerSettings } from "../grpc/support/grpcTestServer.ts"
import { ledgerOn } from "../support/ledgerLayers.ts"
import { hasOpenssl, makeCertificates } from "../support/tlsCertificates.ts"

/**
 * The client against the service's real gRPC server (in process, in-memory
 * ledger): bearer token, TLS and mutual TLS, several instances with health
 * checks, and the Effect face of the client.
 */

type ServerSettings = Parameters<typeof testServerSettings>[0]

/** A real gRPC server over its own in-memory ledger; closed with the returned scope. */
/** The in-process servers here accept the gRPC test suites' admin key (x-admin-key, as the real service). */
const IN_PROCESS_ADMIN = { "x-admin-key": TEST_ADMIN_KEY }

const startServer = (settings: ServerSettings = {}) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const context = yield* Layer.buildWithScope(grpcServerLayerWith(testServerSettings(settings)).pipe(Layer.provide(ledgerOn(MemoryStore.layer))), scope)
    return { scope, address: `127.0.0.1:${Context.get(context, GrpcServerAddress).port}` }
  })

const withClient = <A>(options: ConstructorParameters<typeof BalanceClient>[0], f: (c: BalanceClient) => Promise<A>) =>
  Effect.acquireUseRelease(Effect.sync(() => new BalanceClient(options)), (c) => Effect.promise(() => f(c)), (c) => Effect.sync(() => c.close()))

const failureOf = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e)

describe("security", () => {
  it.live("sends the bearer token the service requires (a function is read at every call)", () =>
    Effect.gen(function*() {
      const { scope, address } = yield* startServer({ authToken: Redacted.make("game-token") })
      const base = { addresses: [address], healthCheck: false as const, retry: { maxAttempts: 1 } }
      const denied = yield* withClient(base, (c) => failureOf(c.call("GetBalance", { account_id: "tok-a" })))
      assert.instanceOf(denied, BalanceCallError)
      assert.strictEqual((denied as BalanceCallError).grpcCode, grpc.status.UNAUTHENTICATED)
      let token = "game-token"
      const ok = yield* withClient({ ...base, auth: { bearerToken: () => token } }, async (c) => {
        const first = await c.call("GetBalance", { account_id: "tok-a" })
        token = "rotated-away"
        return [first, await failureOf(c.call("GetBalance", { account_id: "tok-a" }))] as const
      })
      assert.strictEqual(ok[0].currency, "CHIPS")
      assert.instanceOf(ok[1], BalanceCallError)
      yield* Scope.close(scope, Exit.void)
    }))

  it.live.skipIf(!hasOpenssl)("speaks TLS and mutual TLS with the service's certificates", () =>
    Effect.gen(function*() {
      const { dir, f, read } = makeCertificates()
      const { scope, address } = yield* startServer({ tls: { cert: f("server.pem"), key: f("server.key"), ca: f("ca.pem") } })
      const base = {
        addresses: [address],
        healthCheck: false as const,
        retry: { maxAttempts: 1 },
        channelOptions: { "grpc.ssl_target_name_override": "localhost" }
      }
      const mutual = yield* withClient(
        { ...base, tls: { ca: read("ca.pem"), cert: read("client.pem"), key: read("client.key") } },
        (c) => c.call("GetBalance", { account_id: "tls-a" })
      )
      assert.strictEqual(mutual.currency, "CHIPS")
      const noClientCert = yield* withClient({ ...base, tls: { ca: read("ca.pem") } }, (c) => failureOf(c.call("GetBalance", { account_id: "tls-a" })))
      assert.instanceOf(noClientCert, BalanceUnavailable)
      yield* Scope.close(scope, Exit.void)
      rmSync(dir, { recursive: true, force: true })
    }))
})

describe("numbers the wire cannot carry as given", () => {
  it.live("an amount or seat that is not a whole number is refused before anything is sent or journaled (protobufjs would send 25.5 as 25)", () =>
    Effect.gen(function*() {
      const { scope, address } = yield* startServer()
      const journalDir = mkdtempSync(join(tmpdir(), "client-whole-"))
      const result = yield* withClient({ addresses: [address], healthCheck: false, auth: { adminMetadata: IN_PROCESS_ADMIN } }, async (c) => {
        await c.checked("EnsureAccount", { account_id: "whole-a", initial_balance: 1000 })
        const raw = await failureOf(c.call("Deposit", { account_id: "whole-a", amount: 25.5, idempotency_key: "whole-d1", source: "PROMO" }))
        const rawText = await failureOf(c.call("Deposit", { account_id: "whole-a", amount: "12abc", idempotency_key: "whole-d2", source: "PROMO" }))
        const game = new GameBalance({ client: c, mode: "enforce", journalDir })
        const buyIn = await game.buyIn({ tableId: "whole-t", accountId: "whole-a", amount: 25.5, key: "whole-b1" })
        const bet = await game.contribute({ tableId: "whole-t", handId: "h1", seatId: 1.5, accountId: "whole-a", amount: 5, type: "BET", key: "whole-c1" })
        const pending = game.stats().journal.pending
        await game.close()
        const wallet = await c.call("GetBalance", { account_id: "whole-a" })
        const stack = await c.call("GetTableStack", { table_id: "whole-t", account_id: "whole-a" })
        return { raw, rawText, buyIn, bet, pending, wallet, stack }
      })
      assert.instanceOf(result.raw, BalanceCallError)
      assert.strictEqual((result.raw as BalanceCallError).grpcCode, grpc.status.INVALID_ARGUMENT)
      assert.include((result.raw as BalanceCallError).detail, "amount: must be a whole number")
      assert.include((result.rawText as BalanceCallError).detail, `not "12abc"`)
      assert.deepStrictEqual(result.buyIn, { decision: "refused", key: "whole-b1", code: "INVALID_AMOUNT", message: "amount: must be a whole number of chips, not 25.5" })
      assert.deepStrictEqual(result.bet, { decision: "refused", key: "whole-c1", code: "INVALID_SEAT_ID", message: "seatId: must be a whole number, not 1.5" })
      assert.strictEqual(result.pending, 0)
      assert.strictEqual(result.wallet.balance, "1000")
      assert.strictEqual(result.stack.balance, "0")
      yield* Scope.close(scope, Exit.void)
      rmSync(journalDir, { recursive: true, force: true })
    }))

  it.live("with the service unreachable too: refused, not permitted offline (a journaled 25.5 would be replayed as 25)", () =>
    Effect.gen(function*() {
      const journalDir = mkdtempSync(join(tmpdir(), "client-whole-off-"))
      const closed = `127.0.0.1:${yield* Effect.promise(() => freePort())}`
      const result = yield* withClient({ addresses: [closed], healthCheck: false, retry: { maxAttempts: 1 } }, async (c) => {
        const game = new GameBalance({ client: c, mode: "enforce", journalDir })
        const buyIn = await game.buyIn({ tableId: "whole-t", accountId: "whole-a", amount: 25.5, key: "whole-b2" })
        const pending = game.stats().journal.pending
        await game.close()
        return { buyIn, pending }
      })
      assert.strictEqual(result.buyIn.decision, "refused")
      assert.strictEqual(result.pending, 0)
      rmSync(journalDir, { recursive: true, force: true })
    }))
})

describe("several instances", () => {
  it.live("round robin over the healthy instances; one that does not answer its health check gets no calls", () =>
    Effect.gen(function*() {
      const a = yield* startServer()
      const b = yield* startServer()
      const dead = `127.0.0.1:${yield* Effect.promise(freePort)}`
      const result = yield* withClient(
        { addresses: [a.address, dead, b.address], healthCheck: { intervalMs: 60_000, timeoutMs: 1_000 }, retry: { maxAttempts: 1 } },
        async (c) => {
          // Tells the instances apart: the wallet exists with 7 chips on a's ledger only.
          await c.transport.checkHealth()
          const status = c.transport.endpointStatus()
          const onlyA = new BalanceClient({ addresses: [a.address], healthCheck: false, auth: { adminMetadata: IN_PROCESS_ADMIN } })
          await onlyA.checked("EnsureAccount", { account_id: "rr", initial_balance: 7 }).finally(() => onlyA.close())
          const seen: Array<string> = []
          for (let i = 0; i < 10; i++) seen.push((await c.call("GetBalance", { account_id: "rr" })).balance)
          return { status, seen }
        }
      )
      assert.deepStrictEqual(result.status.map((s) => s.healthy), [true, false, true])
      assert.deepStrictEqual(result.seen.toSorted(), [..."00000", ..."77777"], `alternating between a and b: ${result.seen.join(",")}`)
      yield* Scope.close(a.scope, Exit.void)
      yield* Scope.close(b.scope, Exit.void)
    }))
})

describe("Effect API", () => {
  const server = Layer.effect(GrpcServerAddress, Effect.map(Effect.acquireRelease(startServer(), (s) => Scope.close(s.scope, Exit.void)), (s) => ({ host: "127.0.0.1", port: Number(s.address.split(":")[1]) })))
  const journalDir = mkdtempSync(join(tmpdir(), "balance-client-effect-"))
  afterAll(() => rmSync(journalDir, { recursive: true, force: true }))
  const gateway = Layer.unwrap(Effect.map(Effect.service(GrpcServerAddress), ({ port }) =>
    BalanceGateway.layer({
      client: { addresses: [`127.0.0.1:${port}`], healthCheck: false, auth: { adminMetadata: IN_PROCESS_ADMIN } },
      mode: "enforce",
      journalDir,
      logger: () => {}
    })
  )).pipe(Layer.provide(server))

  layer(gateway)("BalanceGateway", (it) => {
    it.effect("decides movements, and keeps refusals, unavailability and call errors as typed failures", () =>
      Effect.gen(function*() {
        const balance = yield* BalanceGateway
        yield* balance.checked("EnsureAccount", { account_id: "fx-a", initial_balance: 100 })
        const seated = yield* balance.buyIn({ tableId: "fx-t", accountId: "fx-a", amount: 60 })
        assert.strictEqual(seated.decision, "applied")
        const tooMuch = yield* balance.buyIn({ tableId: "fx-t", accountId: "fx-a", amount: 60 })
        assert.deepInclude(tooMuch, { decision: "refused", code: "INSUFFICIENT_BALANCE" })
        const refusal = yield* Effect.flip(balance.checked("ProcessCashOut", { account_id: "fx-a", table_id: "fx-t", seat_id: 1, amount: 61 }))
        assert.instanceOf(refusal, BalanceRefusal)
        const code = yield* balance.checked("ProcessCashOut", { account_id: "fx-a", table_id: "fx-t", seat_id: 1, amount: 61 }).pipe(
          Effect.as("cashed out"),
          Effect.catchTag("BalanceRefusal", (e) => Effect.succeed(e.code))
        )
        assert.strictEqual(code, "INSUFFICIENT_STACK")
        yield* balance.setMode("off")
        assert.strictEqual((yield* balance.cashOut({ tableId: "fx-t", accountId: "fx-a", seatId: 1, amount: 60 })).decision, "legacy")
        assert.strictEqual(yield* balance.mode, "off")
        assert.strictEqual((yield* balance.stats).decisions.applied, 1)
      }))
  })
})

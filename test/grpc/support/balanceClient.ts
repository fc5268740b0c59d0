import * as grpc from "@grpc/grpc-js"
import * as protoLoader from "@grpc/proto-loader"
import { Context, Effect, Layer, type Scope } from "effect"
import { ADMIN_METHODS } from "../../../src/api/grpc/callAuth.ts"
import { GrpcServerAddress } from "../../../src/api/grpc/GrpcServer.ts"
import { CLIENT_LOADER_OPTIONS, PROTO_FILES } from "../../../src/api/grpc/protoDefinition.ts"

// biome-ignore lint: test client messages are untyped wire objects
export type Message = Record<string, any>

/** A wire-level client package: snake_case fields (keepCase), as the game's client sees them. */
export const loadClientPackage = () =>
  grpc.loadPackageDefinition(protoLoader.loadSync([...PROTO_FILES], CLIENT_LOADER_OPTIONS)) as Message

/** The admin key of every test server (testServerSettings); BalanceClient sends it on the admin methods. */
export const TEST_ADMIN_KEY = "grpc-test-admin-key"

/** Generous: a deadline guards against a hung test, it is not a latency assertion. */
const DEADLINE_MS = 15_000

export interface Stream {
  readonly received: Array<Message>
  /** The response headers, once the server sent them. */
  readonly headers: () => grpc.Metadata | undefined
  /** The status the stream ended with, once it has. */
  readonly ended: () => grpc.StatusObject | undefined
  readonly cancel: () => void
}

const toMetadata = (headers: Readonly<Record<string, string>>) => {
  const m = new grpc.Metadata()
  for (const [k, v] of Object.entries(headers)) m.set(k, v)
  return m
}

/**
 * `adminKey`: sent as `x-admin-key` on the methods that may need admin credentials (ADMIN_METHODS)
 * unless the call's headers carry one already, as an operator's tool would; the game's calls go without.
 */
export const makeClient = (
  address: string,
  credentials = grpc.credentials.createInsecure(),
  options: grpc.ClientOptions = {},
  adminKey?: string
) => {
  const pkg = loadClientPackage()
  const balance = new pkg.balance.BalanceService(address, credentials, options) as grpc.Client & Message
  const health = new pkg.grpc.health.v1.Health(address, credentials, options) as grpc.Client & Message
  const clientFor = (service: "balance" | "health") => (service === "balance" ? balance : health)

  const unary = (
    service: "balance" | "health",
    method: string,
    request: Message,
    headers: Readonly<Record<string, string>> = {},
    deadlineMs = DEADLINE_MS
  ) =>
    Effect.callback<Message, grpc.ServiceError>((resume) => {
      const deadline = new Date(Date.now() + deadlineMs)
      const withAdmin = adminKey !== undefined && service === "balance" && ADMIN_METHODS.has(method) && headers["x-admin-key"] === undefined
        ? { ...headers, "x-admin-key": adminKey }
        : headers
      const call = clientFor(service)[method](request, toMetadata(withAdmin), { deadline }, (error: grpc.ServiceError | null, response: Message) =>
        resume(error ? Effect.fail(error) : Effect.succeed(response))
      ) as grpc.ClientUnaryCall
      return Effect.sync(() => call.cancel())
    })

  const stream = (service: "balance" | "health", method: string, request: Message, headers: Readonly<Record<string, string>> = {}): Effect.Effect<Stream, never, Scope.Scope> =>
    Effect.acquireRelease(
      Effect.sync(() => {
        const call = clientFor(service)[method](request, toMetadata(headers)) as grpc.ClientReadableStream<Message>
        const received: Array<Message> = []
        let ended: grpc.StatusObject | undefined
        let responseHeaders: grpc.Metadata | undefined
        call.on("metadata", (m: grpc.Metadata) => void (responseHeaders = m))
        call.on("data", (m: Message) => received.push(m))
        call.on("status", (s: grpc.StatusObject) => void (ended = s))
        call.on("error", () => {})
        return { received, headers: () => responseHeaders, ended: () => ended, cancel: () => call.cancel() }
      }),
      (s) => Effect.sync(() => s.cancel())
    )

  return {
    call: (method: string, request: Message, headers?: Readonly<Record<string, string>>, deadlineMs?: number) =>
      unary("balance", method, request, headers, deadlineMs),
    health: (method: string, request: Message) => unary("health", method, request),
    stream,
    close: () => {
      balance.close()
      health.close()
    }
  }
}

export type Client = ReturnType<typeof makeClient>

export class BalanceClient extends Context.Service<BalanceClient, Client>()("test/BalanceClient") {
  /** A client of the server in GrpcServerAddress (with the test servers' admin key), closed with the layer. */
  static readonly layer = Layer.effect(
    BalanceClient,
    Effect.gen(function*() {
      const { port } = yield* GrpcServerAddress
      return yield* Effect.acquireRelease(
        Effect.sync(() => makeClient(`127.0.0.1:${port}`, undefined, {}, TEST_ADMIN_KEY)),
        (c) => Effect.sync(c.close)
      )
    })
  )
}

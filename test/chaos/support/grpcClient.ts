import * as grpc from "@grpc/grpc-js"
import { ADMIN_METHODS } from "../../../src/api/grpc/callAuth.ts"
import { loadClientPackage, type Message } from "../../grpc/support/balanceClient.ts"
import { ADMIN_KEY } from "./serviceProcess.ts"

export type { Message }

/** What one unary call came back with: a response, or a gRPC status. Never throws. */
export type Answer =
  | { readonly kind: "response"; readonly response: Message; readonly ms: number }
  | { readonly kind: "status"; readonly code: grpc.status; readonly details: string; readonly ms: number }

export interface ChaosClient {
  readonly call: (method: string, request: Message, deadlineMs?: number) => Promise<Answer>
  /** The response, or an Error naming the status. */
  readonly must: (method: string, request: Message, deadlineMs?: number) => Promise<Message>
  readonly close: () => void
}

let pkg: Message | undefined

/**
 * A grpc-js client of BalanceService loaded from proto/ (snake_case fields, int64 as strings), as the game sees it.
 * Given several addresses (instances on one Redis behind a balancer), it sends each call to the next one in turn.
 * The admin methods (Deposit, Withdraw, EnsureAccount) carry `x-admin-key` (the chaos services' ADMIN_API_KEY), the
 * game's calls nothing: the service listens on loopback.
 */
export const chaosClient = (address: string | ReadonlyArray<string>, adminKey: string = ADMIN_KEY): ChaosClient => {
  const loaded = (pkg ??= loadClientPackage())
  const clients = (typeof address === "string" ? [address] : address).map((a) =>
    new loaded.balance.BalanceService(a, grpc.credentials.createInsecure()) as grpc.Client & Message
  )
  let turn = 0
  const call = (method: string, request: Message, deadlineMs = 15_000) =>
    new Promise<Answer>((resolve) => {
      const started = performance.now()
      const client = clients[turn++ % clients.length]!
      const metadata = new grpc.Metadata()
      if (ADMIN_METHODS.has(method)) metadata.set("x-admin-key", adminKey)
      client[method](request, metadata, { deadline: Date.now() + deadlineMs }, (error: grpc.ServiceError | null, response: Message) => {
        const ms = performance.now() - started
        resolve(error ? { kind: "status", code: error.code, details: error.details, ms } : { kind: "response", response, ms })
      })
    })
  return {
    call,
    must: async (method, request, deadlineMs) => {
      const a = await call(method, request, deadlineMs)
      if (a.kind === "status") throw new Error(`${method}: gRPC status ${grpc.status[a.code]} (${a.details})`)
      return a.response
    },
    close: () => clients.forEach((c) => c.close())
  }
}

export const UNAVAILABLE = grpc.status.UNAVAILABLE
export const statusName = (code: grpc.status) => grpc.status[code]

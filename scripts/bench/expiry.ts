/**
 * `npm run bench -- --expiry 1000`: how late the service voids holds whose
 * deadline passed (DESIGN 5: 99% within 5 s). N one-second holds through the
 * real service and its scheduled sweep (RESERVATION_SWEEP_MS 1 s); lateness =
 * closedAt - expiresAt of each, read back with GetReservation. The chaos test
 * (test/chaos/expiry.test.ts) checks that every hold is voided and nothing is
 * lost; how fast is measured here.
 */
import * as grpc from "@grpc/grpc-js"
import { benchMetadata, loadBalanceClientConstructor, type Message } from "./proto.ts"
import { summarize } from "./stats.ts"

const ACCOUNTS = 100
const AMOUNT = 10

const unary = (client: grpc.Client, method: string, request: Message): Promise<Message> =>
  new Promise((resolve, reject) =>
    (client as unknown as Record<string, Function>)[method]!.call(
      client,
      request,
      benchMetadata(method),
      { deadline: Date.now() + 30_000 },
      (error: grpc.ServiceError | null, response: Message) => (error ? reject(error) : resolve(response))
    ))

const must = async (client: grpc.Client, method: string, request: Message) => {
  const r = await unary(client, method, request)
  if (r.ok === false) throw new Error(`${method}: ${r.error} ${r.error_message}`)
  return r
}

/** Runs `f` over `items` with at most `limit` in flight. */
const inBatches = async <A, B>(items: ReadonlyArray<A>, limit: number, f: (a: A) => Promise<B>): Promise<Array<B>> => {
  const out: Array<B> = []
  for (let i = 0; i < items.length; i += limit) out.push(...(await Promise.all(items.slice(i, i + limit).map(f))))
  return out
}

export interface ExpiryFigures {
  readonly holds: number
  readonly latenessMs: { readonly p50: number; readonly p90: number; readonly p99: number; readonly max: number }
  /** Wall time from the last hold taken to the last one voided. */
  readonly sweptAllInMs: number
}

export const measureExpiry = async (grpcAddress: string, holds: number, log: (line: string) => void): Promise<ExpiryFigures> => {
  const Client = loadBalanceClientConstructor()
  const client = new Client(grpcAddress, grpc.credentials.createInsecure())
  try {
    const accounts = Array.from({ length: ACCOUNTS }, (_, i) => `bench-exp-${i}`)
    await inBatches(accounts, 16, (id) => must(client, "EnsureAccount", { account_id: id, initial_balance: String(holds * AMOUNT) }))
    const ids = await inBatches(Array.from({ length: holds }, (_, i) => i), 32, async (i) =>
      (await must(client, "ReserveForBuyIn", {
        account_id: accounts[i % ACCOUNTS],
        table_id: `bench-exp-${i}`,
        amount: String(AMOUNT),
        idempotency_key: `bench-exp-${i}`,
        timeout_seconds: 1
      })).reservation_id as string)
    const lastTaken = Date.now()
    log(`   ${holds} one-second holds taken; waiting for the sweep`)
    const lateness = new Map<string, number>()
    for (let pass = 0; lateness.size < holds; pass++) {
      if (Date.now() - lastTaken > 120_000) throw new Error(`only ${lateness.size} of ${holds} holds voided after 120 s`)
      await new Promise((resolve) => setTimeout(resolve, 500))
      const open = ids.filter((id) => !lateness.has(id))
      const states = await inBatches(open, 32, (id) => must(client, "GetReservation", { reservation_id: id }))
      states.forEach((r, i) => {
        if (r.status === "EXPIRED") lateness.set(open[i]!, Number(r.closed_at_ms) - Number(r.expires_at_ms))
      })
    }
    const s = summarize([Float64Array.from(lateness.values())])
    return { holds, latenessMs: { p50: s.p50, p90: s.p90, p99: s.p99, max: s.max }, sweptAllInMs: Date.now() - lastTaken }
  } finally {
    client.close()
  }
}

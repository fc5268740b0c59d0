import { ADMIN_KEY, removeDir, type ServiceProcess, startService } from "../../chaos/support/serviceProcess.ts"
import { chaosClient } from "../../chaos/support/grpcClient.ts"
import { HS_SECRET } from "../../http/support/testServer.ts"
import { startTestRedisServer, type TestRedisServer } from "../../support/redisServer.ts"

export { ADMIN_KEY }
export { HS_SECRET }

export interface AdminFixture {
  readonly redis: TestRedisServer
  readonly service: ServiceProcess
  /** The service's HTTP API base, e.g. http://127.0.0.1:PORT/api */
  readonly apiUrl: string
  readonly stop: () => Promise<void>
}

/** A private redis-server and the real service (`node src/main.ts`) on free ports, with a known admin key. */
export const startAdminFixture = async (env: Readonly<Record<string, string>> = {}): Promise<AdminFixture> => {
  const redis = await startTestRedisServer()
  const service = await startService({ redisUrl: redis.url, env: { RAKE_BASIS_POINTS: "500", JWT_HS256_SECRET: HS_SECRET, ...env } })
  return {
    redis,
    service,
    apiUrl: `${service.httpUrl}/api`,
    stop: async () => {
      await service.terminate()
      await redis.dispose()
      removeDir(service.dataDir)
    }
  }
}

/** An admin HTTP call on the fixture's service; throws on an error status. */
// biome-ignore lint: the API's JSON, whatever the route
export const adminCall = async (f: AdminFixture, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<any> => {
  const r = await f.service.http(`/api${path}`, {
    method,
    headers: { "x-admin-key": ADMIN_KEY, ...(body === undefined ? {} : { "content-type": "application/json" }), ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) })
  })
  const json = await r.json()
  if (r.status >= 400) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(json)}`)
  return json
}

export interface GameResult {
  readonly players: ReadonlyArray<string>
  readonly tableId: string
  /** Chips the game put in (HTTP: accounts created with a balance, then a deposit each). */
  readonly funded: number
  readonly raked: number
}

/**
 * Funds players over HTTP (admin routes: gRPC's money-creating calls need admin credentials once
 * issue 13 lands), then plays hands through gRPC as the game service does: buy-ins (reserve +
 * commit), contributions, settlements with 5 % rake (RAKE_BASIS_POINTS=500), cash-outs.
 */
export const playGameOverGrpc = async (f: AdminFixture, options: { readonly prefix: string; readonly hands: number }): Promise<GameResult> => {
  const players = [`${options.prefix}-p1`, `${options.prefix}-p2`, `${options.prefix}-p3`]
  const tableId = `${options.prefix}-table`
  for (const p of players) {
    await adminCall(f, "POST", `/accounts/${p}`, { initialBalance: 1000 })
    await adminCall(f, "POST", `/accounts/${p}/deposit`, { amount: 500, source: "PURCHASE" }, { "idempotency-key": `${p}-deposit` })
  }
  const grpc = chaosClient(f.service.grpcAddress)
  let raked = 0
  try {
    for (const [seat, p] of players.entries()) {
      const r = await grpc.must("ReserveForBuyIn", { account_id: p, table_id: tableId, amount: "600", idempotency_key: `${p}-buyin`, timeout_seconds: 60 })
      if (!r.ok) throw new Error(`buy-in of ${p}: ${r.error}`)
      const c = await grpc.must("CommitReservation", { reservation_id: r.reservation_id })
      if (!c.ok) throw new Error(`commit of ${p} (seat ${seat + 1}): ${c.error}`)
    }
    for (let h = 1; h <= options.hands; h++) {
      const handId = `h${h}`
      for (const [i, p] of players.entries()) {
        const c = await grpc.must("RecordContribution", {
          table_id: tableId, hand_id: handId, seat_id: i + 1, account_id: p, amount: "20", contribution_type: "BET", idempotency_key: `${tableId}-${handId}-${i}`
        })
        if (!c.ok) throw new Error(`contribution: ${c.error}`)
      }
      const winner = (h - 1) % players.length
      const rake = Math.floor((60 * 500) / 10_000)
      raked += rake
      const s = await grpc.must("SettlePot", {
        table_id: tableId, hand_id: handId, winners: [{ seat_id: winner + 1, account_id: players[winner], amount: String(60 - rake) }], idempotency_key: `${tableId}-${handId}-settle`
      })
      if (!s.ok) throw new Error(`settle: ${s.error}`)
    }
    for (const [i, p] of players.entries()) {
      const stack = await grpc.must("GetTableStack", { table_id: tableId, account_id: p })
      const o = await grpc.must("ProcessCashOut", { account_id: p, table_id: tableId, seat_id: i + 1, amount: stack.balance, idempotency_key: `${p}-cashout` })
      if (!o.ok) throw new Error(`cash-out: ${o.error}`)
    }
  } finally {
    grpc.close()
  }
  return { players, tableId, funded: players.length * 1500, raked }
}

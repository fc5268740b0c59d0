import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll } from "@effect/vitest"
import { BalanceClient, type BalanceClientOptions } from "../../../client/src/index.ts"
import { ADMIN_KEY, removeDir, type ServiceProcess, startService } from "../../chaos/support/serviceProcess.ts"
import { startTestRedisServer, type TestRedisServer } from "../../support/redisServer.ts"

/**
 * How these tests present the operator's credential for the admin calls
 * (EnsureAccount with chips, Deposit, Withdraw): the one place to change
 * when the service settles how gRPC admin calls authenticate.
 */
export const ADMIN_METADATA: Readonly<Record<string, string>> = { "x-admin-key": ADMIN_KEY }

/**
 * The real service (`node src/main.ts`) on a private redis-server, on ports
 * that stay the same across `stop`/`kill9` and `start`, as a game's client
 * configuration expects. Redis (AOF fsync always) outlives the service.
 */
export interface ServiceHarness {
  readonly redis: TestRedisServer
  readonly address: string
  readonly service: () => ServiceProcess | undefined
  readonly kill9: () => Promise<void>
  readonly stop: () => Promise<void>
  readonly start: () => Promise<void>
  /** A client of this service with test-friendly settings (tests override what they exercise). */
  readonly client: (overrides?: Partial<BalanceClientOptions>) => BalanceClient
  readonly tempDir: (label: string) => string
  readonly dispose: () => Promise<void>
}

export const startServiceHarness = async (env: Readonly<Record<string, string>> = {}): Promise<ServiceHarness> => {
  const redis = await startTestRedisServer()
  let current: ServiceProcess | undefined = await startService({ redisUrl: redis.url, env })
  const ports = current.ports
  const dataDir = current.dataDir
  const dirs: Array<string> = [dataDir]
  const clients: Array<BalanceClient> = []
  return {
    redis,
    address: `127.0.0.1:${ports.grpc}`,
    service: () => current,
    kill9: async () => {
      await current?.kill9()
      current = undefined
    },
    stop: async () => {
      await current?.terminate()
      current = undefined
    },
    start: async () => {
      if (current !== undefined) return
      current = await startService({ redisUrl: redis.url, dataDir, ports, env })
    },
    client: (overrides = {}) => {
      const c = new BalanceClient({
        addresses: [`127.0.0.1:${ports.grpc}`],
        auth: { adminMetadata: ADMIN_METADATA },
        healthCheck: false,
        ...overrides
      })
      clients.push(c)
      return c
    },
    tempDir: (label) => {
      const d = mkdtempSync(join(tmpdir(), `balance-client-${label}-`))
      dirs.push(d)
      return d
    },
    dispose: async () => {
      for (const c of clients) c.close()
      await current?.terminate()
      await redis.dispose()
      for (const d of dirs) removeDir(d)
    }
  }
}

/** The service's books for some players: wallet balance and stack at each table (read through a plain client). */
export const booksOf = async (client: BalanceClient, accounts: ReadonlyArray<string>, tables: ReadonlyArray<string>) => {
  const books: Record<string, number> = {}
  for (const a of accounts) {
    books[`wallet:${a}`] = Number((await client.call("GetBalance", { account_id: a })).balance)
    for (const t of tables) {
      const s = await client.call("GetTableStack", { table_id: t, account_id: a })
      books[`stack:${t}:${a}`] = Number(s.balance)
    }
  }
  return books
}

/** One harness for a test file: started before its tests, disposed after; the getter is for use inside tests. */
export const useServiceHarness = (env: Readonly<Record<string, string>> = {}): (() => ServiceHarness) => {
  let h: ServiceHarness | undefined
  beforeAll(async () => {
    h = await startServiceHarness(env)
  }, 90_000)
  afterAll(async () => {
    await h?.dispose()
  })
  return () => {
    if (h === undefined) throw new Error("the service harness is not started (use it inside a test)")
    return h
  }
}

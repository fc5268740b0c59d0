import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { type ChaosRedis, startChaosRedis } from "./support/chaosRedis.ts"
import { type ChaosClient, chaosClient } from "./support/grpcClient.ts"
import { metric, parseMetrics, removeDir, type ServiceProcess, startService } from "./support/serviceProcess.ts"

/**
 * READ_CACHE with two real service processes on one Redis (docs/read-cache.md): a Deposit
 * acknowledged by one instance is seen by a GetBalance on the other sent right after the
 * acknowledgement, round after round, while each instance answers repeated reads from its cache.
 */

let redis: ChaosRedis
let services: Array<ServiceProcess> = []
let clients: Array<ChaosClient> = []

beforeAll(async () => {
  redis = await startChaosRedis()
  services = await Promise.all([startService({ redisUrl: redis.url }), startService({ redisUrl: redis.url })])
  clients = services.map((s) => chaosClient(s.grpcAddress))
}, 90_000)

afterAll(async () => {
  for (const c of clients) c.close()
  await Promise.all(services.map((s) => s.terminate()))
  await redis?.dispose()
  for (const s of services) removeDir(s.dataDir)
})

describe("READ_CACHE: two service processes over gRPC", () => {
  it("a Deposit acknowledged by one instance is read by GetBalance on the other right after, every round", async () => {
    const accounts = Array.from({ length: 5 }, (_, n) => `rc-${n}`)
    const expected = new Map<string, number>()
    for (const account of accounts) {
      await clients[0]!.must("EnsureAccount", { account_id: account, initial_balance: "1000" })
      expected.set(account, 1000)
    }
    const balance = async (client: ChaosClient, account: string) =>
      Number((await client.must("GetBalance", { account_id: account })).balance)
    const stale: Array<string> = []
    for (let round = 0; round < 300; round++) {
      const account = accounts[Math.floor(Math.random() * accounts.length)]!
      const [writer, reader] = Math.random() < 0.5 ? [clients[0]!, clients[1]!] : [clients[1]!, clients[0]!]
      await balance(reader, account)
      await balance(reader, account)
      const amount = 1 + Math.floor(Math.random() * 9)
      const answer = await writer.must("Deposit", {
        account_id: account,
        amount: String(amount),
        idempotency_key: `rc-dep-${round}`,
        source: "PROMO"
      })
      assert.strictEqual(answer.ok, true, JSON.stringify(answer))
      expected.set(account, expected.get(account)! + amount)
      const seen = await balance(reader, account)
      if (seen !== expected.get(account)) stale.push(`round ${round} ${account}: read ${seen}, acknowledged ${expected.get(account)}`)
    }
    assert.deepStrictEqual(stale, [])
    // Both caches answered part of the reads (the rounds were not all served by Redis).
    for (const s of services) {
      assert.isAbove(metric(parseMetrics(await s.metrics()), "balance_read_cache_lookups_total", { result: "hit" }), 50)
    }
  }, 120_000)
})

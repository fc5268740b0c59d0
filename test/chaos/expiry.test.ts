import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { type ChaosRedis, startChaosRedis } from "./support/chaosRedis.ts"
import { type ChaosClient, chaosClient } from "./support/grpcClient.ts"
import { eventually } from "../support/eventually.ts"
import { mapLimit, quantile } from "./support/poll.ts"
import { metric, parseMetrics, removeDir, type ServiceProcess, startService } from "./support/serviceProcess.ts"

/**
 * DESIGN 5: every due hold is voided by the service's own scheduled sweep.
 * 1,000 one-second holds through the real service (its own process, a real
 * redis-server) at the default RESERVATION_SWEEP_MS (1 s): all EXPIRED, none
 * before its deadline, every one counted in the lateness histogram. How late
 * (the 99%-within-5-s target) is measured by `npm run bench -- --expiry 1000`
 * and printed here, never asserted (a loaded machine is not a slow service).
 */

const RESERVATIONS = 1000
const ACCOUNTS = 100
const AMOUNT = 10
const INITIAL = 1000

let redis: ChaosRedis
let service: ServiceProcess
let client: ChaosClient

beforeAll(async () => {
  redis = await startChaosRedis()
  service = await startService({ redisUrl: redis.url, env: { RESERVATION_SWEEP_MS: "1000" } })
  client = chaosClient(service.grpcAddress)
}, 90_000)

afterAll(async () => {
  client?.close()
  await service?.terminate()
  await redis?.dispose()
  if (service) removeDir(service.dataDir)
})

describe("reservation expiry against the running service", () => {
  it("1,000 one-second holds are all voided, none early, held returns to 0, each counted by the lateness histogram", async () => {
    const accounts = Array.from({ length: ACCOUNTS }, (_, i) => `exp-${i}`)
    await mapLimit(accounts, 16, (id) => client.must("EnsureAccount", { account_id: id, initial_balance: String(INITIAL) }))

    const reservationIds = await mapLimit(Array.from({ length: RESERVATIONS }, (_, i) => i), 32, async (i) => {
      const r = await client.must("ReserveForBuyIn", {
        account_id: accounts[i % ACCOUNTS],
        table_id: `exp-table-${i}`,
        amount: String(AMOUNT),
        idempotency_key: `exp-hold-${i}`,
        timeout_seconds: 1
      })
      assert.isTrue(r.ok, `reserve ${i}: ${r.error} ${r.error_message}`)
      return r.reservation_id as string
    })
    assert.strictEqual(new Set(reservationIds).size, RESERVATIONS)

    // The service's own histogram counts every expiry it processed.
    const histogram = await eventually("1,000 expiries in balance_reservation_expiry_lateness_seconds", async () => {
      const m = parseMetrics(await service.metrics())
      return metric(m, "balance_reservation_expiry_lateness_seconds_count") >= RESERVATIONS ? m : undefined
    }, { timeoutMs: 60_000, intervalMs: 250 })

    const lateness = await mapLimit(reservationIds, 32, async (id) => {
      const r = await client.must("GetReservation", { reservation_id: id })
      assert.isTrue(r.ok, `GetReservation ${id}: ${r.error}`)
      assert.strictEqual(r.status, "EXPIRED", `reservation ${id}`)
      return Number(r.closed_at_ms) - Number(r.expires_at_ms)
    })
    for (const id of accounts) {
      const b = await client.must("GetBalance", { account_id: id })
      assert.strictEqual(b.held, "0", `held of ${id}`)
      assert.strictEqual(b.balance, String(INITIAL), `balance of ${id}`)
      assert.strictEqual(b.available_balance, String(INITIAL), `available of ${id}`)
      assert.isFalse(b.stale)
    }

    const count = metric(histogram, "balance_reservation_expiry_lateness_seconds_count")
    const within5s = metric(histogram, "balance_reservation_expiry_lateness_seconds_bucket", { le: "5" })
    const p50 = quantile(lateness, 0.5)
    const p99 = quantile(lateness, 0.99)
    const max = Math.max(...lateness)
    console.log(
      `[chaos expiry] ${RESERVATIONS} holds of 1 s: all EXPIRED, held back to 0 on ${ACCOUNTS} wallets; ` +
        `lateness (closedAt - expiresAt) p50 ${p50} ms, p99 ${p99} ms, max ${max} ms; ` +
        `service histogram: ${within5s}/${count} within 5 s`
    )
    assert.isTrue(lateness.every((ms) => ms >= 0), "no reservation may be voided before its deadline")
    assert.strictEqual(count, RESERVATIONS)
  }, 110_000)
})

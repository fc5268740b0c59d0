import * as grpc from "@grpc/grpc-js"
import type { ClientEvent } from "../telemetry.ts"
import { contract } from "./contract.ts"

export interface HealthCheckSettings {
  /** How often each instance is asked grpc.health.v1.Health/Check. */
  readonly intervalMs: number
  /** Deadline of one check. */
  readonly timeoutMs: number
}

export interface Endpoint {
  readonly address: string
  readonly client: grpc.Client
  healthy: boolean
}

/**
 * The service instances and the round robin over them. Each instance has its
 * own channel; a health check (grpc.health.v1, SERVING only while the service's
 * store answers) runs on each in the background, and an attempt that fails
 * with a transport error marks its instance unhealthy until a check says
 * otherwise. Calls go to healthy instances in turn; when none is healthy, to
 * all of them in turn (a health check is advice, not a verdict).
 */
export class Endpoints {
  private readonly endpoints: ReadonlyArray<Endpoint>
  private next = 0
  private readonly timer: NodeJS.Timeout | undefined

  private readonly health: HealthCheckSettings | false
  private readonly metadata: () => grpc.Metadata
  private readonly onEvent: (e: ClientEvent) => void

  constructor(
    addresses: ReadonlyArray<string>,
    credentials: grpc.ChannelCredentials,
    channelOptions: grpc.ClientOptions,
    health: HealthCheckSettings | false,
    metadata: () => grpc.Metadata,
    onEvent: (e: ClientEvent) => void
  ) {
    this.health = health
    this.metadata = metadata
    this.onEvent = onEvent
    if (addresses.length === 0) throw new Error("at least one balance service address is needed")
    this.endpoints = addresses.map((address) => ({ address, client: new grpc.Client(address, credentials, channelOptions), healthy: true }))
    if (health !== false) {
      this.timer = setInterval(() => this.checkAll(), health.intervalMs)
      this.timer.unref()
      this.checkAll()
    }
  }

  /** The instance for the next attempt; `avoid` (the one that just failed) is skipped when another is available. */
  pick(avoid?: Endpoint): Endpoint {
    const healthy = this.endpoints.filter((e) => e.healthy && e !== avoid)
    const pool = healthy.length > 0 ? healthy : this.endpoints.filter((e) => e !== avoid).length > 0 ? this.endpoints.filter((e) => e !== avoid) : this.endpoints
    const chosen = pool[this.next % pool.length]!
    this.next = (this.next + 1) % 1_000_000
    return chosen
  }

  markHealthy(e: Endpoint, healthy: boolean): void {
    if (e.healthy === healthy) return
    e.healthy = healthy
    this.onEvent({ type: "endpoint-health", endpoint: e.address, healthy })
  }

  status(): ReadonlyArray<{ readonly address: string; readonly healthy: boolean }> {
    return this.endpoints.map((e) => ({ address: e.address, healthy: e.healthy }))
  }

  waitForReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs
    return Promise.any(this.endpoints.map((e) => new Promise<void>((resolve, reject) =>
      e.client.waitForReady(deadline, (error) => (error ? reject(error) : resolve()))
    ))).catch(() => {
      throw new Error(`no balance service instance connected within ${timeoutMs} ms (${this.endpoints.map((e) => e.address).join(", ")})`)
    })
  }

  /** Asks every instance now; resolves when all answered or timed out. */
  checkAll(): Promise<void> {
    if (this.health === false) return Promise.resolve()
    const timeoutMs = this.health.timeoutMs
    const method = contract().health.Check!
    return Promise.all(this.endpoints.map((e) => new Promise<void>((resolve) => {
      e.client.makeUnaryRequest(
        method.path,
        method.requestSerialize,
        method.responseDeserialize,
        { service: "balance.BalanceService" },
        this.metadata(),
        { deadline: Date.now() + timeoutMs },
        (error, response) => {
          this.markHealthy(e, error === null && (response as { status?: string } | undefined)?.status === "SERVING")
          resolve()
        }
      )
    }))).then(() => undefined)
  }

  close(): void {
    if (this.timer !== undefined) clearInterval(this.timer)
    for (const e of this.endpoints) e.client.close()
  }
}

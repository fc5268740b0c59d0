import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { ArchiveStatus } from "../../src/archive/ArchiveStatus.ts"
import { HistoryStore, HistoryUnavailable } from "../../src/history/HistoryStore.ts"
import { makeMemoryHistoryStore } from "../../src/history/MemoryHistoryStore.ts"
import { MemoryStore } from "../../src/store/memory/MemoryStore.ts"
import { clientFor } from "./support/client.ts"
import { startTestServer, type TestServer } from "./support/testServer.ts"

/**
 * GET /api/admin/archive while the history store does not answer: a 503 that names PostgreSQL (the
 * archive's status is read there), not "the ledger store" (an operator would look at Redis), and an
 * overview that still answers, with its archive part missing.
 */
describe("the archive status while PostgreSQL is down", () => {
  let server: TestServer
  beforeAll(async () => {
    const history = HistoryStore.of({
      ...makeMemoryHistoryStore(),
      summary: () => Effect.fail(new HistoryUnavailable({ operation: "summary", reason: "connection refused" }))
    })
    server = await startTestServer(MemoryStore.layer, {
      historyViews: {
        archiveStatus: ArchiveStatus.layer({ database: "external", laggingAfterMs: 10_000 }).pipe(Layer.provide(Layer.succeed(HistoryStore, history)))
      }
    })
  })
  afterAll(async () => {
    await server?.close()
  })

  it("answers 503 STORE_UNAVAILABLE naming the history store, with Retry-After", async () => {
    const reply = await clientFor(server.baseUrl).admin.get("/api/admin/archive")
    assert.strictEqual(reply.status, 503)
    assert.strictEqual(reply.body.error, "STORE_UNAVAILABLE")
    assert.strictEqual(reply.body.message, "the history store (PostgreSQL) is unreachable; retry later")
    assert.strictEqual(reply.headers.get("retry-after"), "1")
  })

  it("the overview still answers, without the archive", async () => {
    const reply = await clientFor(server.baseUrl).admin.get("/api/admin/overview")
    assert.strictEqual(reply.status, 200)
    assert.isNull(reply.body.archive)
  })
})

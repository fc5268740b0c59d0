import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer, ManagedRuntime } from "effect"
import { TestClock } from "effect/testing"
import { CommandExecutor } from "../../src/degradation/CommandExecutor.ts"
import { CreditQueue } from "../../src/degradation/CreditQueue.ts"
import { Ledger } from "../../src/ledger/Ledger.ts"
import { ledgerCoreOn } from "../support/ledgerLayers.ts"
import { makeFaultyStore } from "../support/faultyStore.ts"
import { makeSwitchableStore } from "../support/switchableStore.ts"
import { eventuallyEffect } from "../support/eventually.ts"

const dirs: Array<string> = []
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

/** The executor, its credit queue under `dataDir` and the ledger, over `store`; `env` is the config (for the schedule too). */
const queueOn = (store: ReturnType<typeof makeSwitchableStore>, dataDir: string, env: Record<string, string> = {}) =>
  CommandExecutor.layer.pipe(
    Layer.provideMerge(CreditQueue.layer),
    Layer.provideMerge(ledgerCoreOn(store.layer)),
    Layer.provideMerge(ConfigProvider.layer(ConfigProvider.fromUnknown({ DATA_DIR: dataDir, ...env })))
  )

const runtime = (store: ReturnType<typeof makeSwitchableStore>, dataDir: string, env: Record<string, string> = {}) =>
  ManagedRuntime.make(queueOn(store, dataDir, env))

const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), "credit-queue-"))
  dirs.push(d)
  return d
}

describe("durable credit queue", () => {
  it("queues credits while the store is down, refuses debits, and replays exactly once when it is back", async () => {
    const store = makeSwitchableStore()
    const rt = runtime(store, tempDir())
    try {
      await rt.runPromise(Ledger.use((l) => l.execute({ op: "EnsureAccount", accountId: "q", initialBalance: 100 })))
      store.down()
      const deposit = { op: "Deposit", accountId: "q", amount: 25, source: "BONUS", idempotencyKey: "dq1" } as const
      const queued = await rt.runPromise(CommandExecutor.use((e) => e.execute(deposit)))
      assert.strictEqual(queued._tag, "Queued")
      const again = await rt.runPromise(CommandExecutor.use((e) => e.execute(deposit)))
      assert.strictEqual(again._tag, "Queued")
      const withdraw = await rt.runPromise(
        CommandExecutor.use((e) => e.execute({ op: "Withdraw", accountId: "q", amount: 1, reason: "x", idempotencyKey: "wq" })).pipe(Effect.flip)
      )
      assert.strictEqual(withdraw._tag, "StoreUnavailable")
      const stale = await rt.runPromise(Ledger.use((l) => l.wallet("q")))
      assert.isTrue(stale.stale)
      assert.strictEqual(stale.value!.balance, 100)
      assert.strictEqual((await rt.runPromise(CreditQueue.use((q) => q.drainOnce()))).replayed, 0)
      store.up()
      const drained = await rt.runPromise(CreditQueue.use((q) => q.drainOnce()))
      assert.deepStrictEqual(drained, { replayed: 2, deadLettered: 0, remaining: 0 })
      const wallet = await rt.runPromise(Ledger.use((l) => l.wallet("q")))
      assert.strictEqual(wallet.value!.balance, 125)
      assert.isFalse(wallet.stale)
    } finally {
      await rt.dispose()
    }
  })

  it("survives a restart of the service: the journal is replayed by the next process", async () => {
    const store = makeSwitchableStore()
    const dir = tempDir()
    const first = runtime(store, dir)
    await first.runPromise(Ledger.use((l) => l.execute({ op: "EnsureAccount", accountId: "r", initialBalance: 0 })))
    store.down()
    for (let i = 0; i < 5; i++) {
      const q = await first.runPromise(
        CommandExecutor.use((e) => e.execute({ op: "Deposit", accountId: "r", amount: 10, source: "ADMIN", idempotencyKey: `r${i}` }))
      )
      assert.strictEqual(q._tag, "Queued")
    }
    await first.dispose()
    store.up()
    const second = runtime(store, dir)
    try {
      assert.strictEqual(await second.runPromise(CreditQueue.use((q) => Effect.sync(() => q.pending()))), 5)
      assert.strictEqual((await second.runPromise(CreditQueue.use((q) => q.drainOnce()))).replayed, 5)
      assert.strictEqual((await second.runPromise(Ledger.use((l) => l.wallet("r")))).value!.balance, 50)
      assert.strictEqual(readFileSync(join(dir, "credit-queue.jsonl"), "utf8"), "")
    } finally {
      await second.dispose()
    }
  })

  it("a key-less cancel queued after an attempt that did land replays as done, refunds once, no dead letter", async () => {
    const store = makeSwitchableStore()
    const rt = runtime(store, tempDir())
    try {
      const stackBalance = () => rt.runPromise(Ledger.use((l) => l.stack("tq", "cq"))).then((s) => s.value!.balance)
      await rt.runPromise(Ledger.use((l) =>
        Effect.gen(function*() {
          yield* l.execute({ op: "EnsureAccount", accountId: "cq", initialBalance: 100 })
          const hold = yield* l.execute({ op: "Reserve", accountId: "cq", tableId: "tq", amount: 50, timeoutMs: 0, idempotencyKey: "cq-r" })
          yield* l.execute({ op: "Commit", reservationId: hold.result.reservationId })
          yield* l.execute({ op: "Contribute", tableId: "tq", handId: "h1", seatId: 1, accountId: "cq", amount: 20, contributionType: "BET", idempotencyKey: "cq-c" })
        })))
      const cancel = { op: "Cancel", tableId: "tq", handId: "h1", reason: "misdeal" } as const
      // The first attempt lands, its answer is lost; the game's retry finds the store down and is queued.
      await rt.runPromise(CommandExecutor.use((e) => e.execute(cancel)))
      assert.strictEqual(await stackBalance(), 50)
      store.down()
      assert.strictEqual((await rt.runPromise(CommandExecutor.use((e) => e.execute(cancel))))._tag, "Queued")
      store.up()
      assert.deepStrictEqual(await rt.runPromise(CreditQueue.use((q) => q.drainOnce())), { replayed: 1, deadLettered: 0, remaining: 0 })
      assert.strictEqual(await stackBalance(), 50, "refunded once")
    } finally {
      await rt.dispose()
    }
  })

  it("a credit refused on replay goes to the dead-letter file, never silently away", async () => {
    const store = makeSwitchableStore()
    const dir = tempDir()
    const rt = runtime(store, dir, { CREDIT_QUEUE_HOLD_MS: "0" })
    try {
      await rt.runPromise(Ledger.use((l) => l.execute({ op: "EnsureAccount", accountId: "s", initialBalance: 0 })))
      store.down()
      await rt.runPromise(
        CommandExecutor.use((e) => e.execute({ op: "CashOut", accountId: "s", tableId: "t", seatId: 1, amount: 500, idempotencyKey: "co" }))
      )
      store.up()
      assert.deepStrictEqual(await rt.runPromise(CreditQueue.use((q) => q.drainOnce())), { replayed: 0, deadLettered: 1, remaining: 0 })
      const dead = readFileSync(join(dir, "credit-dead-letter.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l))
      assert.strictEqual(dead.length, 1)
      assert.strictEqual(dead[0].error, "INSUFFICIENT_STACK")
      assert.strictEqual(dead[0].command.idempotencyKey, "co")
    } finally {
      await rt.dispose()
    }
  })

  it("two instances: a cash-out queued on one is held until the settle queued on the other has filled the stack", async () => {
    const store = makeSwitchableStore()
    const a = runtime(store, tempDir())
    const b = runtime(store, tempDir())
    try {
      await a.runPromise(Ledger.use((l) =>
        Effect.gen(function*() {
          yield* l.execute({ op: "EnsureAccount", accountId: "x", initialBalance: 100 })
          const hold = yield* l.execute({ op: "Reserve", accountId: "x", tableId: "tx", amount: 100, timeoutMs: 0, idempotencyKey: "x-r" })
          yield* l.execute({ op: "Commit", reservationId: hold.result.reservationId })
          yield* l.execute({ op: "Contribute", tableId: "tx", handId: "h", seatId: 1, accountId: "x", amount: 40, contributionType: "BET", idempotencyKey: "x-c" })
        })))
      store.down()
      // The game settles through one instance and cashes out the whole stack through the other.
      const settle = { op: "Settle", tableId: "tx", handId: "h", winners: [{ seatId: 1, accountId: "x", amount: 40 }], idempotencyKey: "x-s" } as const
      assert.strictEqual((await a.runPromise(CommandExecutor.use((e) => e.execute(settle))))._tag, "Queued")
      const cashOut = { op: "CashOut", accountId: "x", tableId: "tx", seatId: 1, amount: 100, idempotencyKey: "x-o" } as const
      assert.strictEqual((await b.runPromise(CommandExecutor.use((e) => e.execute(cashOut))))._tag, "Queued")
      store.up()
      // B drains first: the stack holds 60 of the 100, the settle is still in A's queue.
      assert.deepStrictEqual(await b.runPromise(CreditQueue.use((q) => q.drainOnce())), { replayed: 0, deadLettered: 0, remaining: 1 })
      assert.deepStrictEqual(await a.runPromise(CreditQueue.use((q) => q.drainOnce())), { replayed: 1, deadLettered: 0, remaining: 0 })
      assert.deepStrictEqual(await b.runPromise(CreditQueue.use((q) => q.drainOnce())), { replayed: 1, deadLettered: 0, remaining: 0 })
      const wallet = await b.runPromise(Ledger.use((l) => l.wallet("x")))
      assert.strictEqual(wallet.value!.balance, 100)
      assert.strictEqual((await b.runPromise(Ledger.use((l) => l.stack("tx", "x")))).value!.balance, 0)
    } finally {
      await a.dispose()
      await b.dispose()
    }
  })

  it.effect("a held cash-out that nothing fills is dead-lettered once CREDIT_QUEUE_HOLD_MS has passed", () =>
    Effect.gen(function*() {
      const ledger = yield* Ledger
      const executor = yield* CommandExecutor
      const queue = yield* CreditQueue
      yield* ledger.execute({ op: "EnsureAccount", accountId: "nohold", initialBalance: 0 })
      held.down()
      const queued = yield* executor.execute({ op: "CashOut", accountId: "nohold", tableId: "t", seatId: 1, amount: 5, idempotencyKey: "nh" })
      assert.strictEqual(queued._tag, "Queued")
      held.up()
      assert.deepStrictEqual(yield* queue.drainOnce(), { replayed: 0, deadLettered: 0, remaining: 1 })
      yield* TestClock.adjust("59 seconds")
      assert.deepStrictEqual(yield* queue.drainOnce(), { replayed: 0, deadLettered: 0, remaining: 1 })
      yield* TestClock.adjust("1 second")
      assert.deepStrictEqual(yield* queue.drainOnce(), { replayed: 0, deadLettered: 1, remaining: 0 })
      assert.strictEqual(queue.counters().deadLettered, 1)
    }).pipe(Effect.provide(queueOn(held, tempDir(), { CREDIT_QUEUE_HOLD_MS: "60000" }))))

  it("a defect replaying a credit (a bug, not a refusal) keeps it queued in order, never dead-lettered", async () => {
    const faulty = makeFaultyStore()
    const dir = tempDir()
    const rt = runtime({ layer: faulty.layer, down: () => faulty.set("down"), up: () => faulty.set("none") }, dir)
    try {
      await rt.runPromise(Ledger.use((l) => l.execute({ op: "EnsureAccount", accountId: "bug", initialBalance: 0 })))
      faulty.set("down")
      for (const key of ["bug-1", "bug-2"]) {
        await rt.runPromise(CommandExecutor.use((e) => e.execute({ op: "Deposit", accountId: "bug", amount: 5, source: "ADMIN", idempotencyKey: key })))
      }
      faulty.set("defect")
      assert.deepStrictEqual(await rt.runPromise(CreditQueue.use((q) => q.drainOnce())), { replayed: 0, deadLettered: 0, remaining: 2 })
      faulty.set("none")
      assert.deepStrictEqual(await rt.runPromise(CreditQueue.use((q) => q.drainOnce())), { replayed: 2, deadLettered: 0, remaining: 0 })
      assert.strictEqual((await rt.runPromise(Ledger.use((l) => l.wallet("bug")))).value!.balance, 10)
    } finally {
      await rt.dispose()
    }
  })

  it("a full queue refuses with StoreUnavailable", async () => {
    const store = makeSwitchableStore()
    const rt = runtime(store, tempDir(), { CREDIT_QUEUE_MAX: "2" })
    try {
      store.down()
      const outcomes = []
      for (let i = 0; i < 3; i++) {
        outcomes.push(await rt.runPromise(
          CommandExecutor.use((e) => e.execute({ op: "Deposit", accountId: "z", amount: 1, source: "ADMIN", idempotencyKey: `z${i}` })).pipe(
            Effect.map((x) => x._tag as string),
            Effect.catch((e) => Effect.succeed(e._tag))
          )
        ))
      }
      assert.deepStrictEqual(outcomes, ["Queued", "Queued", "StoreUnavailable"])
    } finally {
      await rt.dispose()
    }
  })

  it.effect("the scheduled drain applies credits queued after the service started with an empty journal", () =>
    Effect.gen(function*() {
      const ledger = yield* Ledger
      const executor = yield* CommandExecutor
      const queue = yield* CreditQueue
      yield* ledger.execute({ op: "EnsureAccount", accountId: "sched", initialBalance: 0 })
      scheduled.down()
      const queued = yield* executor.execute({ op: "Deposit", accountId: "sched", amount: 7, source: "ADMIN", idempotencyKey: "sd" })
      assert.strictEqual(queued._tag, "Queued")
      yield* TestClock.adjust("1 second")
      assert.strictEqual(queue.pending(), 1)
      scheduled.up()
      yield* TestClock.adjust("1 second")
      // The drain's journal writes are real file I/O: wait (real time) until it finished, with a deadline.
      yield* eventuallyEffect("the queue to drain", Effect.sync(() => queue.pending() === 0), { timeoutMs: 5_000 })
      assert.strictEqual((yield* ledger.wallet("sched")).value!.balance, 7)
    }).pipe(Effect.provide(CreditQueue.schedule.pipe(Layer.provideMerge(queueOn(scheduled, tempDir(), { CREDIT_QUEUE_DRAIN_MS: "500" }))))))
})

const scheduled = makeSwitchableStore()
const held = makeSwitchableStore()

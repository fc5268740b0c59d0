import { execFileSync } from "node:child_process"
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs"
import { connect } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, it } from "@effect/vitest"
import { ConfigProvider, Context, Effect, Layer } from "effect"
import * as ServiceHistoryStore from "../../src/app/ServiceHistoryStore.ts"
import { HistoryStore } from "../../src/history/HistoryStore.ts"
import { LocalPostgresServer } from "../../src/history/LocalPostgresServer.ts"
import {
  recordPostgresOwner,
  spawnPostgresServerOnFreePort,
  stopPostgresServer
} from "../../src/history/postgresServerProcess.ts"
import { chain } from "../support/historyFixtures.ts"
import { eventually } from "../store/planFixtures.ts"

const accepts = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect({ port, host: "127.0.0.1" })
    socket.once("connect", () => (socket.destroy(), resolve(true)))
    socket.once("error", () => resolve(false))
  })

/** A DATA_DIR in a temp dir that PostgreSQL's own user can reach (the tests run as root here). */
const tempDataDir = Effect.acquireRelease(
  Effect.sync(() => {
    const dir = mkdtempSync(join(tmpdir(), "balance-localpg-"))
    chmodSync(dir, 0o755)
    return dir
  }),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
)

const configFor = (dataDir: string) => ConfigProvider.layer(ConfigProvider.fromUnknown({ DATA_DIR: dataDir }))

it.live("without DATABASE_URL the history store runs on a private PostgreSQL under DATA_DIR, which keeps its data across starts", () =>
  Effect.gen(function*() {
    const dataDir = yield* tempDataDir
    const [a1, a2] = chain("w:alice", 2)
    const history = ServiceHistoryStore.layer.pipe(Layer.provide(configFor(dataDir)))
    const port = yield* Effect.gen(function*() {
      const store = yield* HistoryStore
      const outcome = yield* store.commit({
        fencingToken: 1, fromCursor: "0", toCursor: "5-0", entries: [a1!, a2!], transfers: [], closed: [], stops: []
      })
      assert.deepStrictEqual(outcome, { _tag: "Committed" })
      return (yield* LocalPostgresServer).port
    }).pipe(Effect.provide(Layer.merge(history, LocalPostgresServer.layer.pipe(Layer.provide(configFor(dataDir))))), Effect.scoped)
    assert.notStrictEqual(port, 5432)
    assert.isFalse(yield* Effect.promise(() => accepts(port)), "stopped with its scope")
    const again = yield* Effect.gen(function*() {
      const store = yield* HistoryStore
      return { state: yield* store.state(), entries: yield* store.entries("w:alice", 0, 10) }
    }).pipe(Effect.provide(history), Effect.scoped)
    assert.deepStrictEqual(again, { state: { cursor: "5-0", fencingToken: 1 }, entries: [a1!, a2!] })
  }), { timeout: 60_000 })

it.live("a private PostgreSQL killed with -9 is started again on the same cluster, committed rows intact", () =>
  Effect.gen(function*() {
    const dataDir = yield* tempDataDir
    const config = configFor(dataDir)
    yield* Effect.gen(function*() {
      const local = yield* LocalPostgresServer
      const store = yield* Effect.map(Layer.build(HistoryStore.layer(local.url)), Context.get(HistoryStore))
      const [a1] = chain("w:alice", 1)
      yield* store.commit({ fencingToken: 1, fromCursor: "0", toCursor: "1-0", entries: [a1!], transfers: [], closed: [], stops: [] })
      const pid = Number(readFileSync(join(local.dir, "postmaster.pid"), "utf8").split("\n")[0])
      process.kill(pid, "SIGKILL")
      const postmasterPid = Effect.try(() => Number(readFileSync(join(local.dir, "postmaster.pid"), "utf8").split("\n")[0]))
      yield* eventually(postmasterPid, (p) => p !== pid && p > 0, 30_000)
      const entries = yield* eventually(store.entries("w:alice", 0, 10), (es) => es.length === 1, 30_000)
      assert.deepStrictEqual(entries, [a1!])
    }).pipe(Effect.provide(LocalPostgresServer.layer.pipe(Layer.provide(config))), Effect.scoped)
  }), { timeout: 60_000 })

it.live("an orphaned PostgreSQL left on DATA_DIR is stopped before a new one starts", () =>
  Effect.gen(function*() {
    const dataDir = yield* tempDataDir
    const orphan = yield* Effect.promise(() => spawnPostgresServerOnFreePort({ dir: join(dataDir, "postgres", "data") }))
    recordPostgresOwner(orphan)
    yield* Effect.addFinalizer(() => Effect.promise(() => stopPostgresServer(orphan)))
    const port = yield* Effect.map(LocalPostgresServer, (l) => l.port).pipe(
      Effect.provide(LocalPostgresServer.layer.pipe(Layer.provide(configFor(dataDir)))),
      Effect.scoped
    )
    assert.notStrictEqual(port, orphan.port)
    assert.isFalse(yield* Effect.promise(() => accepts(orphan.port)), "the orphan was stopped")
  }), { timeout: 60_000 })

const isRoot = typeof process.getuid === "function" && process.getuid() === 0

it.live.skipIf(!isRoot)("as root, a DATA_DIR only root may enter (0700, as mkdtemp makes it) is opened to the postgres user alone: group postgres, g+x", () =>
  Effect.gen(function*() {
    const dataDir = yield* Effect.acquireRelease(
      Effect.sync(() => mkdtempSync(join(tmpdir(), "balance-localpg-root-"))),
      (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
    )
    assert.strictEqual(statSync(dataDir).mode & 0o777, 0o700)
    const postgresGid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim())
    const [a1] = chain("w:alice", 1)
    const committed = yield* Effect.gen(function*() {
      const store = yield* HistoryStore
      return yield* store.commit({ fencingToken: 1, fromCursor: "0", toCursor: "1-0", entries: [a1!], transfers: [], closed: [], stops: [] })
    }).pipe(Effect.provide(ServiceHistoryStore.layer.pipe(Layer.provide(configFor(dataDir)))), Effect.scoped)
    assert.deepStrictEqual(committed, { _tag: "Committed" })
    const st = statSync(dataDir)
    assert.strictEqual(st.gid, postgresGid)
    // Search for the group only: neither listing nor anything for others.
    assert.strictEqual(st.mode & 0o777, 0o710)
    const cluster = statSync(join(dataDir, "postgres", "data"))
    assert.strictEqual(cluster.mode & 0o777, 0o700)
    assert.strictEqual(cluster.uid, Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim()))
  }), { timeout: 60_000 })

it.live.skipIf(!isRoot)("as root, a directory above DATA_DIR that the postgres user cannot pass is left alone and the start fails naming it", () =>
  Effect.gen(function*() {
    const outer = yield* Effect.acquireRelease(
      Effect.sync(() => mkdtempSync(join(tmpdir(), "balance-localpg-outer-"))),
      (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
    )
    const dataDir = join(outer, "app", ".data")
    const error = yield* Effect.flip(
      Effect.gen(function*() {
        yield* HistoryStore
      }).pipe(Effect.provide(ServiceHistoryStore.layer.pipe(Layer.provide(configFor(dataDir)))), Effect.scoped)
    )
    assert.include(String(error.message), `cannot pass through ${outer}`)
    assert.strictEqual(statSync(outer).mode & 0o777, 0o700, "untouched")
  }), { timeout: 60_000 })

/** Field `name` of /proc/<pid>/status (e.g. "PPid", "Uid": the first number). */
const procStatus = (pid: number, name: string) =>
  Number(readFileSync(`/proc/${pid}/status`, "utf8").split("\n").find((l) => l.startsWith(`${name}:`))!.split(/\s+/)[1])

it.live("a PostgreSQL frozen (SIGSTOP) when it is stopped is continued and stopped by its fast shutdown, not killed after the grace", () =>
  Effect.gen(function*() {
    const dataDir = yield* tempDataDir
    const server = yield* Effect.promise(() => spawnPostgresServerOnFreePort({ dir: join(dataDir, "data") }))
    yield* Effect.addFinalizer(() => Effect.promise(() => stopPostgresServer(server, "SIGKILL")))
    process.kill(-server.child.pid!, "SIGSTOP")
    yield* Effect.promise(() => stopPostgresServer(server))
    assert.strictEqual(server.child.signalCode, null, "not killed")
    assert.strictEqual(server.child.exitCode, 0)
  }), { timeout: 60_000 })

it.live.skipIf(!isRoot)("as root, postgres runs as the postgres user with nothing in between: after a pause and resume, a crash is still seen and it is started again", () =>
  Effect.gen(function*() {
    const dataDir = yield* tempDataDir
    yield* Effect.gen(function*() {
      const local = yield* LocalPostgresServer
      const store = yield* Effect.map(Layer.build(HistoryStore.layer(local.url)), Context.get(HistoryStore))
      const postmasterPid = Effect.try(() => Number(readFileSync(join(local.dir, "postmaster.pid"), "utf8").split("\n")[0]))
      const pid = yield* postmasterPid
      assert.strictEqual(procStatus(pid, "PPid"), process.pid, "the postmaster is the service's own child (no runuser in between)")
      assert.strictEqual(procStatus(pid, "Uid"), Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim()))
      // Every group of the user, as grantPassage counts them (not only its primary group).
      const groups = readFileSync(`/proc/${pid}/status`, "utf8").split("\n").find((l) => l.startsWith("Groups:"))!.split(/\s+/).slice(1).filter(Boolean).map(Number)
      assert.sameMembers(groups, execFileSync("id", ["-G", "postgres"], { encoding: "utf8" }).trim().split(/\s+/).map(Number))
      // A hung database, then a crash. Under runuser, runuser stopped with postgres and stayed stopped: the crash went unseen.
      process.kill(pid, "SIGSTOP")
      process.kill(pid, "SIGCONT")
      process.kill(pid, "SIGKILL")
      yield* eventually(postmasterPid, (p) => p !== pid && p > 0, 30_000)
      const [a1] = chain("w:alice", 1)
      const committed = yield* eventually(
        store.commit({ fencingToken: 1, fromCursor: "0", toCursor: "1-0", entries: [a1!], transfers: [], closed: [], stops: [] }).pipe(
          Effect.orElseSucceed(() => undefined)
        ),
        (outcome) => outcome !== undefined,
        30_000
      )
      assert.deepStrictEqual(committed, { _tag: "Committed" })
    }).pipe(Effect.provide(LocalPostgresServer.layer.pipe(Layer.provide(configFor(dataDir)))), Effect.scoped)
  }), { timeout: 60_000 })

import { type ChildProcess, spawn } from "node:child_process"
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Redis } from "ioredis"
import { eventually } from "./eventually.ts"
import { freePort } from "../../src/childProcess/serverChild.ts"
import { RedisServerMissing, redisServerArgs } from "../../src/store/redis/redisServerProcess.ts"

/**
 * Real Redis replication on loopback for failover tests: one primary, N
 * replicas (`--replicaof`) and optionally sentinels (`redis-server
 * --sentinel` with a generated, writable sentinel.conf), all from the
 * machine's redis-server on free ports (never 6379 / 26379), data nodes with
 * the service's persistence settings (AOF fsync always, noeviction). Every
 * process is killed when the test process exits, even on a crash.
 */

const HOST = "127.0.0.1"

/** A port, or a port and the password its server requires. */
export type Target = number | { readonly port: number; readonly password?: string | undefined }

/** One command on a short-lived connection; fails fast (no retries, no queue). */
export const redisCall = async (target: Target, command: string, ...args: Array<string | number>): Promise<unknown> => {
  const { port, password } = typeof target === "number" ? { port: target, password: undefined } : target
  const client = new Redis({
    host: HOST,
    port,
    ...(password === undefined ? {} : { password }),
    lazyConnect: true,
    connectTimeout: 1000,
    commandTimeout: 2000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: true
  })
  client.on("error", () => {})
  try {
    await client.connect()
    return await client.call(command, ...args)
  } finally {
    client.disconnect()
  }
}

/** `INFO <section>` as a map of its `field:value` lines. */
export const redisInfo = async (target: Target, section: string): Promise<Map<string, string>> => {
  const text = String(await redisCall(target, "INFO", section))
  return new Map(
    text.split(/\r?\n/).filter((l) => l.includes(":") && !l.startsWith("#")).map((l) => {
      const i = l.indexOf(":")
      return [l.slice(0, i), l.slice(i + 1)] as [string, string]
    })
  )
}

interface ManagedProcess {
  readonly port: number
  readonly dir: string
  child: ChildProcess
  exited: Promise<void>
  output: () => string
}

const live = new Set<ChildProcess>()
let exitHookInstalled = false
const installExitHook = () => {
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.once("exit", () => {
    for (const child of live) child.kill("SIGKILL")
  })
}

const start = async (
  args: ReadonlyArray<string>,
  port: number,
  dir: string,
  password?: string
): Promise<ManagedProcess> => {
  installExitHook()
  const child = spawn("redis-server", [...args], { stdio: ["ignore", "pipe", "pipe"] })
  live.add(child)
  let output = ""
  const keep = (c: Buffer) => void (output = (output + c.toString("utf8")).slice(-4000))
  child.stdout?.on("data", keep)
  child.stderr?.on("data", keep)
  let failure: Error | undefined
  const exited = new Promise<void>((resolve) => {
    child.once("error", (e: NodeJS.ErrnoException) => {
      failure = e.code === "ENOENT" ? new RedisServerMissing("redis-server") : e
      live.delete(child)
      resolve()
    })
    child.once("exit", (code, signal) => {
      failure ??= new Error(`redis-server on ${port} exited (${signal ?? code}): ${output.trim()}`)
      live.delete(child)
      resolve()
    })
  })
  try {
    await eventually(`redis-server on port ${port} to answer PING`, async () => {
      if (failure) throw failure
      return (await redisCall({ port, password }, "PING")) === "PONG" ? true : undefined
    }, { timeoutMs: 10_000, intervalMs: 25 })
  } catch (e) {
    child.kill("SIGKILL")
    await exited
    throw failure ?? e
  }
  return { port, dir, child, exited, output: () => output }
}

const stop = async (p: ManagedProcess, signal: NodeJS.Signals) => {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return
  p.child.kill(signal)
  const timer = setTimeout(() => p.child.kill("SIGKILL"), 10_000)
  await p.exited
  clearTimeout(timer)
}

/** Starts on a free port, retrying the small race where another process takes it first. */
const startOnFreePort = async (argsFor: (port: number) => ReadonlyArray<string>, dir: string, password?: string) => {
  let last: unknown
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort()
    try {
      return await start(argsFor(port), port, dir, password)
    } catch (e) {
      if (e instanceof RedisServerMissing) throw e
      last = e
    }
  }
  throw last
}

/**
 * Data node flags on top of the service's: full syncs start at once (the default waits 5 s
 * for more replicas); with a password, replicas use it towards their primary too.
 */
const dataNodeArgs = (port: number, dir: string, replicaOf?: number, password?: string, extra: ReadonlyArray<string> = []) => [
  ...redisServerArgs(port, dir),
  "--repl-diskless-sync-delay", "0",
  ...(password === undefined ? [] : ["--requirepass", password, "--masterauth", password]),
  ...(replicaOf === undefined ? [] : ["--replicaof", HOST, String(replicaOf)]),
  ...extra
]

/** One standalone data node with extra flags (TLS...), for connection tests. */
export const startRedisNode = async (options: {
  readonly extraArgs?: (dir: string) => ReadonlyArray<string>
  readonly password?: string
} = {}) => {
  const dir = mkdtempSync(join(tmpdir(), "balance-node-"))
  try {
    const node = await startOnFreePort(
      (port) => dataNodeArgs(port, dir, undefined, options.password, options.extraArgs?.(dir) ?? []),
      dir,
      options.password
    )
    return {
      port: node.port,
      dir,
      dispose: async () => {
        await stop(node, "SIGKILL")
        rmSync(dir, { recursive: true, force: true })
      }
    }
  } catch (e) {
    rmSync(dir, { recursive: true, force: true })
    throw e
  }
}

export interface DataNode {
  readonly port: number
  readonly dir: string
  readonly alive: () => boolean
}

export interface SentinelClusterOptions {
  readonly replicas?: number
  readonly sentinels?: number
  readonly masterName?: string
  readonly quorum?: number
  readonly downAfterMs?: number
  readonly failoverTimeoutMs?: number
  /** `requirepass` (and `masterauth`) of the data nodes; the sentinels get it as `auth-pass`. */
  readonly password?: string
  /** `requirepass` of the sentinels. */
  readonly sentinelPassword?: string
}

export interface SentinelCluster {
  readonly masterName: string
  readonly nodes: ReadonlyArray<DataNode>
  readonly sentinelPorts: ReadonlyArray<number>
  /** REDIS_SENTINELS for the service: `127.0.0.1:p1,127.0.0.1:p2,...`. */
  readonly sentinelsEnv: string
  /** The primary according to the first sentinel that answers. */
  readonly primaryPort: () => Promise<number>
  /** SIGKILL of a data node: no chance to flush anything beyond what fsync already wrote. */
  readonly kill9: (port: number) => Promise<void>
  /** Starts a stopped node again on its port and dir (its AOF is loaded), as a replica of `primaryPort`. */
  readonly restartAsReplicaOf: (port: number, primaryPort: number) => Promise<void>
  /** Until every sentinel names a primary other than `oldPort` and that node says role:master. */
  readonly waitForNewPrimary: (oldPort: number, timeoutMs: number) => Promise<number>
  /** Until `primary` has `count` replicas online that acknowledge writes (what WAIT counts). */
  readonly waitForReplicasOnline: (primary: number, count: number, timeoutMs: number) => Promise<void>
  /**
   * Until every sentinel sees the primary up and connected with no failover in progress. A
   * failover stays "in progress" after the promotion while Sentinel reconfigures the replicas (up
   * to failover-timeout), and SENTINEL FAILOVER answers `INPROG` meanwhile.
   */
  readonly waitForFailoverSettled: (timeoutMs: number) => Promise<void>
  /** One command to the `index`th sentinel (with the sentinel password). */
  readonly sentinelCall: (index: number, command: string, ...args: Array<string | number>) => Promise<unknown>
  readonly dispose: () => Promise<void>
}

/**
 * Primary and replicas first (replication link up), then the sentinels, so
 * that each sentinel's first INFO of the primary already lists the replicas;
 * resolves once every sentinel knows every replica and the other sentinels
 * (hello messages, every 2 s), i.e. once a failover can be agreed on.
 */
export const startSentinelCluster = async (options: SentinelClusterOptions = {}): Promise<SentinelCluster> => {
  const replicaCount = options.replicas ?? 1
  const sentinelCount = options.sentinels ?? 3
  const masterName = options.masterName ?? "mymaster"
  const quorum = options.quorum ?? Math.floor(sentinelCount / 2) + 1
  const { password, sentinelPassword } = options
  const dataAt = (port: number): Target => ({ port, password })
  const sentinelAt = (port: number): Target => ({ port, password: sentinelPassword })
  const root = mkdtempSync(join(tmpdir(), "balance-sentinel-"))
  const data: Array<ManagedProcess> = []
  const sentinels: Array<ManagedProcess> = []

  const dispose = async () => {
    await Promise.all([...sentinels, ...data].map((p) => stop(p, "SIGKILL")))
    rmSync(root, { recursive: true, force: true })
  }

  try {
    const nodeDir = (i: number) => {
      const dir = join(root, `node${i}`)
      mkdirSync(dir, { recursive: true })
      return dir
    }
    const primary = await startOnFreePort((port) => dataNodeArgs(port, nodeDir(0), undefined, password), nodeDir(0), password)
    data.push(primary)
    for (let i = 1; i <= replicaCount; i++) {
      data.push(
        await startOnFreePort((port) => dataNodeArgs(port, nodeDir(i), primary.port, password), nodeDir(i), password)
      )
    }
    await waitForReplicasOnline(dataAt(primary.port), replicaCount, 30_000)

    for (let i = 0; i < sentinelCount; i++) {
      const dir = join(root, `sentinel${i}`)
      mkdirSync(dir, { recursive: true })
      const conf = join(dir, "sentinel.conf")
      sentinels.push(await startOnFreePort((port) => {
        // Sentinel rewrites this file (known replicas and sentinels, epochs): it must be writable.
        writeFileSync(conf, [
          `port ${port}`,
          `bind ${HOST}`,
          `dir ${dir}`,
          "daemonize no",
          "protected-mode no",
          "loglevel warning",
          `sentinel monitor ${masterName} ${HOST} ${primary.port} ${quorum}`,
          `sentinel down-after-milliseconds ${masterName} ${options.downAfterMs ?? 1000}`,
          `sentinel failover-timeout ${masterName} ${options.failoverTimeoutMs ?? 5000}`,
          `sentinel parallel-syncs ${masterName} 1`,
          ...(password === undefined ? [] : [`sentinel auth-pass ${masterName} ${password}`]),
          // Sentinels talk to each other with the same password they require.
          ...(sentinelPassword === undefined ? [] : [`requirepass ${sentinelPassword}`, `sentinel sentinel-pass ${sentinelPassword}`]),
          ""
        ].join("\n"))
        return [conf, "--sentinel"]
      }, dir, sentinelPassword))
    }

    await eventually("every sentinel to know the replicas and the other sentinels", async () => {
      for (const s of sentinels) {
        const fields = pairs(await redisCall(sentinelAt(s.port), "SENTINEL", "MASTER", masterName))
        if (Number(fields.get("num-slaves")) < replicaCount) return undefined
        if (Number(fields.get("num-other-sentinels")) < sentinelCount - 1) return undefined
        if (!(fields.get("flags") ?? "").split(",").includes("master")) return undefined
      }
      return true
    }, { timeoutMs: 30_000, intervalMs: 100 })
  } catch (e) {
    await dispose()
    throw e
  }

  const nodeAt = (port: number) => {
    const node = data.find((d) => d.port === port)
    if (!node) throw new Error(`no data node on port ${port}`)
    return node
  }

  const askSentinels = async (): Promise<Array<number | undefined>> =>
    Promise.all(sentinels.map(async (s) => {
      try {
        const reply = await redisCall(sentinelAt(s.port), "SENTINEL", "GET-MASTER-ADDR-BY-NAME", masterName)
        return Array.isArray(reply) ? Number(reply[1]) : undefined
      } catch {
        return undefined
      }
    }))

  return {
    masterName,
    nodes: data.map((d) => ({
      port: d.port,
      dir: d.dir,
      alive: () => d.child.exitCode === null && d.child.signalCode === null
    })),
    sentinelPorts: sentinels.map((s) => s.port),
    sentinelsEnv: sentinels.map((s) => `${HOST}:${s.port}`).join(","),
    primaryPort: () =>
      eventually("a sentinel to name the primary", async () => (await askSentinels()).find((p) => p !== undefined), { timeoutMs: 10_000 }),
    kill9: (port) => stop(nodeAt(port), "SIGKILL"),
    restartAsReplicaOf: async (port, primaryPort) => {
      const node = nodeAt(port)
      await stop(node, "SIGTERM")
      const again = await start(dataNodeArgs(port, node.dir, primaryPort, password), port, node.dir, password)
      node.child = again.child
      node.exited = again.exited
      node.output = again.output
    },
    waitForNewPrimary: (oldPort, timeoutMs) =>
      eventually(`the sentinels to promote a new primary (old: ${oldPort})`, async () => {
        const named = await askSentinels()
        const first = named[0]
        if (first === undefined || first === oldPort || named.some((p) => p !== first)) return undefined
        const role = (await redisInfo(dataAt(first), "replication")).get("role")
        return role === "master" ? first : undefined
      }, { timeoutMs }),
    waitForReplicasOnline: (primary, count, timeoutMs) => waitForReplicasOnline(dataAt(primary), count, timeoutMs),
    waitForFailoverSettled: (timeoutMs) =>
      eventually("no sentinel to have a failover in progress", async () => {
        const flags = await Promise.all(sentinels.map(async (s) => {
          const reply = await redisCall(sentinelAt(s.port), "SENTINEL", "MASTER", masterName)
          const fields = reply as Array<string>
          return fields[fields.indexOf("flags") + 1] ?? ""
        }))
        // Only "master": not s_down/o_down, not disconnected (a sentinel that cannot reach the primary
        // may be about to start a failover of its own), no failover_in_progress.
        return flags.every((f) => f === "master")
      }, { timeoutMs, intervalMs: 100 }).then(() => undefined),
    sentinelCall: (index, command, ...args) => redisCall(sentinelAt(sentinels[index]!.port), command, ...args),
    dispose
  }
}

/**
 * Until `primary` has `count` replicas online AND they acknowledge writes: Redis 7 starts the
 * command stream to a freshly synced replica only after that replica's first REPLCONF ACK
 * (sent once a second), so for up to ~1 s after "online" a WAIT can still time out. The probe
 * writes one key outside every test prefix and WAITs for it.
 */
const waitForReplicasOnline = (primary: Target, count: number, timeoutMs: number) => {
  const { port, password } = typeof primary === "number" ? { port: primary, password: undefined } : primary
  return eventually(`${count} replica(s) online and acknowledging at ${port}`, async () => {
    const info = await redisInfo(primary, "replication")
    const online = [...info.entries()].filter(([k, v]) => /^slave\d+$/.test(k) && v.includes("state=online")).length
    if (online < count) return undefined
    const client = new Redis({
      host: HOST,
      port,
      ...(password === undefined ? {} : { password }),
      lazyConnect: true,
      connectTimeout: 1000,
      commandTimeout: 2000,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null
    })
    client.on("error", () => {})
    try {
      await client.connect()
      const replies = await client.pipeline().set("test-support:replication-probe", String(Date.now())).wait(count, 200).exec()
      return Number(replies?.[1]?.[1]) >= count ? true : undefined
    } finally {
      client.disconnect()
    }
  }, { timeoutMs }).then(() => undefined)
}

/** A flat `[k1, v1, k2, v2...]` reply (SENTINEL MASTER) as a map. */
const pairs = (reply: unknown): Map<string, string> => {
  const flat = Array.isArray(reply) ? reply.map(String) : []
  const map = new Map<string, string>()
  for (let i = 0; i + 1 < flat.length; i += 2) map.set(flat[i]!, flat[i + 1]!)
  return map
}

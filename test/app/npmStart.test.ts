import { spawn } from "node:child_process"
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { freePort } from "../../src/childProcess/serverChild.ts"
import { eventually } from "../support/eventually.ts"
import { registerChild } from "../support/children.ts"
import { portOpen } from "../chaos/support/serviceProcess.ts"
import { type LogLine, ROOT } from "./support/mainProcess.ts"

/** /proc/<pid>/stat: state and process group; undefined once the process is gone (a zombie counts as gone). */
const procStat = (pid: number): { readonly state: string; readonly ppid: number; readonly pgid: number } | undefined => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    return fields[0] === "Z" ? undefined : { state: fields[0]!, ppid: Number(fields[1]), pgid: Number(fields[2]) }
  } catch {
    return undefined
  }
}

const alive = (pid: number) => procStat(pid) !== undefined

/** Every live process whose parent chain leads to `root`, with its command line. */
const descendants = (root: number): Array<{ readonly pid: number; readonly command: string }> => {
  const parent = new Map<number, number>()
  for (const entry of readdirSync("/proc")) {
    const pid = Number(entry)
    if (!Number.isInteger(pid)) continue
    const stat = procStat(pid)
    if (stat) parent.set(pid, stat.ppid)
  }
  const under = (pid: number): boolean => {
    for (let p = parent.get(pid); p !== undefined && p > 1; p = parent.get(p)) if (p === root) return true
    return false
  }
  return [...parent.keys()].filter(under).map((pid) => {
    let command = ""
    try {
      command = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim()
    } catch {}
    return { pid, command }
  })
}

const jsonLines = (text: string): Array<LogLine> =>
  text.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as LogLine)

describe.skipIf(process.platform !== "linux")("npm start", () => {
  it("defaults: a private redis-server and a private PostgreSQL (the archive is on); SIGTERM to the pid of `npm start` stops node and both (own process groups) after draining; ports close", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "balance-npm-start-"))
    const ports = { http: await freePort(), grpc: await freePort(), metrics: await freePort() }
    // Its own process group, so that the test's cleanup could reach everything; the test itself signals only this pid.
    const npm = spawn("npm", ["start"], {
      cwd: ROOT,
      detached: true,
      env: {
        PATH: process.env.PATH ?? "",
        HOME: process.env.HOME ?? "",
        DATA_DIR: dataDir,
        HTTP_PORT: String(ports.http),
        GRPC_PORT: String(ports.grpc),
        METRICS_PORT: String(ports.metrics)
      },
      stdio: ["ignore", "pipe", "pipe"]
    })
    registerChild(npm)
    let output = ""
    npm.stdout!.on("data", (c: Buffer) => output += c.toString())
    npm.stderr!.on("data", (c: Buffer) => output += c.toString())
    const exited = new Promise<number | null>((resolve) => npm.once("exit", (code) => resolve(code)))
    const npmPid = npm.pid!
    let servicePid: number | undefined
    let redisPid: number | undefined
    let postgresPid: number | undefined
    try {
      await eventually("npm start to be ready (it builds first)", async () => {
        if (npm.exitCode !== null) throw new Error(`npm start exited early (${npm.exitCode}):\n${output}`)
        const r = await fetch(`http://127.0.0.1:${ports.http}/api/ready`, { signal: AbortSignal.timeout(2_000) }).catch(() => undefined)
        return r?.status === 200 ? true : undefined
      }, { timeoutMs: 150_000, intervalMs: 200 })

      servicePid = descendants(npmPid).find((p) => p.command.includes("dist/main.js"))?.pid
      redisPid = jsonLines(output).find((l) => l.message === "local redis-server started")?.pid as number | undefined
      postgresPid = jsonLines(output).find((l) => l.message === "local PostgreSQL started")?.pid as number | undefined
      assert.isDefined(servicePid)
      assert.isDefined(redisPid)
      assert.isDefined(postgresPid)
      assert.notStrictEqual(procStat(redisPid!)!.pgid, procStat(servicePid!)!.pgid)
      assert.notStrictEqual(procStat(postgresPid!)!.pgid, procStat(servicePid!)!.pgid)
      // As root (CI), PostgreSQL runs as the `postgres` user inside a DATA_DIR that mkdtemp made 0700.
      assert.isTrue(jsonLines(output).some((l) => l.message === "history migrations applied"))

      process.kill(npmPid, "SIGTERM")
      const code = await Promise.race([exited, new Promise<"hung">((r) => setTimeout(() => r("hung"), 30_000))])
      assert.strictEqual(code, 0)
      await eventually("node, redis-server and PostgreSQL to exit and every port to close", async () => {
        const open = await Promise.all([ports.http, ports.grpc, ports.metrics].map(portOpen))
        return !alive(servicePid!) && !alive(redisPid!) && !alive(postgresPid!) && open.every((o) => !o) ? true : undefined
      }, { timeoutMs: 20_000 })

      // Drained first (the archiver too), then the stores' servers, then the process: in that order.
      const messages = jsonLines(output).map((l) => l.message as string)
      const at = (m: string) => messages.indexOf(m)
      assert.isAbove(at("grpc stopped"), -1)
      assert.isBelow(at("grpc stopped"), at("local redis-server stopped"))
      assert.isBelow(at("local redis-server stopped"), at("balance-service stopped"))
      assert.isAbove(at("history archiver stopped"), -1)
      assert.isBelow(at("history archiver stopped"), at("local PostgreSQL stopped"))
      assert.isBelow(at("local PostgreSQL stopped"), at("balance-service stopped"))
    } finally {
      for (const pid of [npmPid, servicePid, redisPid, postgresPid]) {
        if (pid !== undefined && alive(pid)) process.kill(pid, "SIGKILL")
      }
      if (existsSync(dataDir)) rmSync(dataDir, { recursive: true, force: true })
    }
  }, 240_000)
})

import { type ChildProcess, spawnSync } from "node:child_process"
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, statSync } from "node:fs"
import { dirname, join, resolve } from "node:path"
import { connect } from "node:net"
import {
  liveOrphan,
  onFreePort,
  recordOwnerIn,
  type ServerChild,
  sleep,
  spawnUntilReady,
  stopChild,
  waitForExit
} from "../childProcess/serverChild.ts"

/**
 * A private PostgreSQL server child, as plain promises so that both the
 * service (LocalPostgresServer, the embedded history store of `npm start`) and
 * the test helper use the same settings: the machine's own binaries (Debian:
 * /usr/lib/postgresql/<major>/bin, else `postgres` on PATH), data under one
 * directory, loopback TCP on the given port plus a Unix socket in that
 * directory, trust authentication (nothing but this machine can reach it).
 *
 * initdb and postgres refuse to run as root: as root, both run as the
 * `postgres` user (Debian's package creates it) through setpriv (util-linux:
 * that user's uid, gid and supplementary groups, and its login environment),
 * and the data directory is handed to that user (owner postgres, mode 0700).
 * That user must also be able to pass through the directories above it: see
 * grantPassage. setpriv execs the server, so nothing sits in between. Not
 * runuser: it stays as a parent, and when postgres is stopped (SIGSTOP, a hung
 * database) runuser stops itself and is not continued with postgres, so it no
 * longer reaps it: a later crash of postgres went unseen (no restart) and its
 * stop waited out the grace. Not Node's spawn uid/gid either: libuv drops the
 * supplementary groups, which grantPassage counts on.
 */
export interface PostgresServerProcess extends ServerChild {
  /** postgres://postgres@127.0.0.1:<port>/postgres; `dir` is the data directory (the cluster). */
  readonly url: string
}

export class PostgresServerMissing extends Error {
  constructor() {
    super(
      "PostgreSQL server binaries (initdb, postgres) were not found in /usr/lib/postgresql/*/bin nor on PATH. " +
        "Install PostgreSQL (Debian/Ubuntu: apt-get install postgresql; macOS: brew install postgresql) " +
        "or set DATABASE_URL to an existing PostgreSQL (or HISTORY_ARCHIVE=off to keep the whole history in Redis)."
    )
    this.name = "PostgresServerMissing"
  }
}

const onPath = (binary: string): string | undefined => {
  for (const dir of (process.env["PATH"] ?? "").split(":")) {
    if (dir !== "" && existsSync(join(dir, binary))) return dir
  }
  return undefined
}

/** Directory holding initdb and postgres: the newest Debian major version, else PATH. */
export const findPostgresBin = (): string => {
  const debian = "/usr/lib/postgresql"
  if (existsSync(debian)) {
    const majors = readdirSync(debian).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a))
    for (const major of majors) {
      const bin = join(debian, major, "bin")
      if (existsSync(join(bin, "initdb")) && existsSync(join(bin, "postgres"))) return bin
    }
  }
  const dir = onPath("initdb")
  if (dir !== undefined && existsSync(join(dir, "postgres"))) return dir
  throw new PostgresServerMissing()
}

const isRoot = () => typeof process.getuid === "function" && process.getuid() === 0

/** uid, primary gid and every group of the `postgres` user, for the data directory when we run as root. */
const postgresUser = (): { uid: number; gid: number; groups: ReadonlyArray<number> } => {
  const id = (flag: string) => spawnSync("id", [flag, "postgres"], { encoding: "utf8" })
  const [uid, gid, groups] = [id("-u"), id("-g"), id("-G")]
  if (uid.status !== 0 || gid.status !== 0 || groups.status !== 0) {
    throw new Error("running as root, and there is no 'postgres' user to run PostgreSQL as (initdb refuses root)")
  }
  return {
    uid: Number(uid.stdout.trim()),
    gid: Number(gid.stdout.trim()),
    groups: groups.stdout.trim().split(/\s+/).map(Number)
  }
}

/** Whether `user` may pass through (search) the directory with this stat. */
const canSearch = (user: { uid: number; groups: ReadonlyArray<number> }, st: { mode: number; uid: number; gid: number }) =>
  st.uid === user.uid ? (st.mode & 0o100) !== 0 : user.groups.includes(st.gid) ? (st.mode & 0o010) !== 0 : (st.mode & 0o001) !== 0

/**
 * As root, the `postgres` user must pass through every directory above the cluster. The
 * service's own directories (the cluster's parent, `DATA_DIR/postgres`, and its parent, DATA_DIR:
 * often created 0700, like every mkdtemp) are opened to that user alone when they are not: group
 * `postgres`, search permission for the group (g+x, no listing), nothing for others. A directory
 * higher up (a 0700 /root, say) is not the service's to change: the start fails naming it.
 */
const grantPassage = (cluster: string, user: { uid: number; gid: number; groups: ReadonlyArray<number> }): void => {
  const own = [dirname(cluster), dirname(dirname(cluster))]
  for (let dir = dirname(cluster); ; dir = dirname(dir)) {
    const st = statSync(dir)
    if (!canSearch(user, st)) {
      if (!own.includes(dir) || st.uid !== 0 || (st.gid !== 0 && st.gid !== user.gid)) {
        throw new Error(
          `running as root, PostgreSQL runs as the 'postgres' user, which cannot pass through ${dir} (mode ${(st.mode & 0o777).toString(8)}); ` +
            "set DATA_DIR to a directory that user can reach (e.g. /var/lib/balance-service), run the service as a non-root user, or set DATABASE_URL"
        )
      }
      chownSync(dir, 0, user.gid)
      chmodSync(dir, (st.mode & 0o7777) | 0o010)
    }
    if (dir === dirname(dir)) return
  }
}

/** The command line of `binary`: as root through setpriv as the `postgres` user (initdb and postgres refuse root). */
const asServerUser = (binary: string, args: ReadonlyArray<string>): [string, Array<string>] =>
  isRoot()
    ? ["setpriv", ["--reuid=postgres", "--regid=postgres", "--init-groups", "--reset-env", "--", binary, ...args]]
    : [binary, [...args]]

/** Creates the cluster in `dir` unless it already holds one (PG_VERSION). */
export const initCluster = (dir: string, bin = findPostgresBin()): void => {
  const abs = resolve(dir)
  if (existsSync(join(abs, "PG_VERSION"))) return
  // Parents with the usual mode; as root, grantPassage lets the postgres user walk down to the cluster.
  mkdirSync(dirname(abs), { recursive: true })
  mkdirSync(abs, { recursive: true, mode: 0o700 })
  if (isRoot()) {
    const user = postgresUser()
    grantPassage(abs, user)
    chownSync(abs, user.uid, user.gid)
  }
  const [command, args] = asServerUser(join(bin, "initdb"), ["-D", abs, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C"])
  const result = spawnSync(command, args, { encoding: "utf8" })
  if (result.status !== 0) {
    const hint = isRoot() ? ` (running as root: initdb runs as the 'postgres' user, which owns ${abs})` : ""
    throw new Error(`initdb failed (${result.status ?? result.signal})${hint}: ${(result.stderr || result.stdout).trim().slice(-2000)}`)
  }
}

/** sun_path is 108 bytes on Linux; PostgreSQL's socket file is `.s.PGSQL.<port>` in the socket dir. */
const socketDirFits = (dir: string) => Buffer.byteLength(join(resolve(dir), ".s.PGSQL.65535")) <= 100

/** Server settings: loopback only, durable (fsync on, synchronous commit), small footprint. */
export const postgresArgs = (port: number, dir: string): Array<string> => [
  "-D", resolve(dir),
  "-p", String(port),
  "-c", "listen_addresses=127.0.0.1",
  // The socket lives in the data dir when the path fits, else nowhere (TCP only): never /var/run/postgresql.
  "-c", `unix_socket_directories=${socketDirFits(dir) ? resolve(dir) : ""}`,
  "-c", "max_connections=50",
  "-c", "shared_buffers=32MB",
  "-c", "logging_collector=off"
]

/** Sends an SSLRequest and waits for PostgreSQL's one-byte answer: the server accepts connections. */
const probeOnce = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = connect({ port, host: "127.0.0.1" })
    const done = (ok: boolean) => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(500, () => done(false))
    socket.on("error", () => done(false))
    socket.on("connect", () => socket.write(Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f])))
    socket.on("data", (chunk) => done(chunk.length > 0 && (chunk[0] === 0x4e || chunk[0] === 0x53)))
  })

/**
 * Starts postgres on `port` with the cluster in `dir` (created first when
 * missing); resolves once it accepts connections and answers a query.
 */
export const spawnPostgresServer = async (options: {
  readonly port: number
  readonly dir: string
  readonly readyTimeoutMs?: number
}): Promise<PostgresServerProcess> => {
  const bin = findPostgresBin()
  initCluster(options.dir, bin)
  const [command, args] = asServerUser(join(bin, "postgres"), postgresArgs(options.port, options.dir))
  const { child, exited } = await spawnUntilReady({
    name: "postgres",
    command,
    args,
    // Its own process group, so a terminal's Ctrl-C reaches the service, which stops it in order.
    detached: true,
    readyTimeoutMs: options.readyTimeoutMs ?? 30_000,
    readiness: "accepting connections",
    tooLate: `postgres on port ${options.port} did not accept connections in time`,
    // Accepting TCP is not enough during crash recovery ("the database system is starting up"):
    // the ready line in the log says it accepts connections.
    isReady: async (output) => output.includes("ready to accept connections") && (await probeOnce(options.port)),
    spawnError: (e) => e,
    kill: (c) => signalServer(c, "SIGKILL")
  })
  return {
    port: options.port,
    dir: resolve(options.dir),
    url: `postgres://postgres@127.0.0.1:${options.port}/postgres`,
    child,
    exited
  }
}

/** Picks a free port; retries on the small race where someone else takes it first. */
export const spawnPostgresServerOnFreePort = (options: { readonly dir: string }): Promise<PostgresServerProcess> =>
  onFreePort((port) => spawnPostgresServer({ ...options, port }), (e) => e instanceof PostgresServerMissing)

/**
 * Signals postgres' whole process group: the postmaster and its backends (a killed postmaster's
 * backends would otherwise run on for a moment, holding the cluster).
 */
const signalServer = (child: ChildProcess, signal: NodeJS.Signals) => {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return
  try {
    process.kill(-child.pid, signal)
  } catch {
    child.kill(signal)
  }
}

/**
 * Stops the server: SIGINT is PostgreSQL's "fast" shutdown (rolls back open transactions, writes a
 * checkpoint); SIGKILL after `graceMs`. Waits for the exit.
 */
export const stopPostgresServer = async (
  server: PostgresServerProcess,
  signal: NodeJS.Signals = "SIGINT",
  graceMs = 15_000
): Promise<void> => {
  if (server.child.exitCode !== null || server.child.signalCode !== null) return
  await stopChild(server, (s) => signalServer(server.child, s), signal, graceMs)
  // A killed postmaster leaves its backends running for a moment; the next start waits for them
  // (postmaster.pid names a live process). Wait until the group is gone.
  const pid = server.child.pid
  if (pid === undefined) return
  const deadline = Date.now() + graceMs
  while (Date.now() < deadline && groupAlive(pid)) await sleep(25)
}

const groupAlive = (pgid: number) => {
  try {
    process.kill(-pgid, 0)
    return true
  } catch {
    return false
  }
}

const ownerFile = (dir: string) => join(resolve(dir), "..", "postgres-owner.json")

/** Notes which process serves `dir`, so that a later start can stop an orphan (see stopOrphanedPostgres). */
export const recordPostgresOwner = (server: PostgresServerProcess): void => {
  recordOwnerIn(ownerFile(server.dir), server)
}

/**
 * If the service was killed without stopping its postgres, that child still runs on `dir`
 * (postgres refuses a second server on the same cluster, so starting would fail): stop it first.
 */
export const stopOrphanedPostgres = async (dir: string, timeoutMs = 15_000): Promise<boolean> => {
  const orphan = await liveOrphan(ownerFile(dir), groupAlive, probeOnce)
  if (orphan === undefined) return false
  // Continued first: a stopped process group acts on nothing (stopChild).
  process.kill(-orphan.pid, "SIGCONT")
  process.kill(-orphan.pid, "SIGINT")
  await waitForExit(orphan.pid, groupAlive, timeoutMs, `orphaned postgres (process group ${orphan.pid}) on ${dir}`)
  return true
}

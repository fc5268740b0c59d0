import { randomUUID } from "node:crypto"
import {
  closeSync,
  existsSync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  writeFileSync,
  writeSync
} from "node:fs"
import { join } from "node:path"
import { type Movement, type MovementResult, sharesTableOrPlayer } from "./movements.ts"

/** Why a movement was permitted offline. */
export type JournalCause =
  /** Every attempt failed with a transport status (or the call's time ran out). */
  | "unavailable"
  /** The circuit breaker was open: no attempt was made. */
  | "circuit-open"
  /** Earlier movements of the same table or player were still waiting for replay: order is kept. */
  | "backlog"

/** One line of the journal file. */
export type JournalLine =
  | { readonly t: "movement"; readonly id: string; readonly at: number; readonly cause: JournalCause; readonly movement: Movement }
  | { readonly t: "applied"; readonly id: string; readonly at: number; readonly result: MovementResult }
  | { readonly t: "refused"; readonly id: string; readonly at: number; readonly code: string; readonly message: string; readonly advice: string }
  /** The operator fixed the cause of a refusal and asked for another replay. */
  | { readonly t: "retry"; readonly id: string; readonly at: number }

export interface JournalEntry {
  readonly id: string
  readonly at: number
  readonly cause: JournalCause
  readonly movement: Movement
  state: "pending" | "applied" | "refused"
  result?: MovementResult
  refusal?: { readonly code: string; readonly message: string; readonly advice: string; readonly at: number }
  appliedAt?: number
  /** The operator put it back in line after a refusal. */
  retried?: boolean
}

export class JournalLocked extends Error {
  readonly _tag = "JournalLocked" as const
  readonly dir: string
  readonly pid: number
  constructor(dir: string, pid: number) {
    super(`reconciliation journal ${dir} is in use by process ${pid}: one game process per journal directory`)
    this.dir = dir
    this.pid = pid
  }
}

export const JOURNAL_FILE = "journal.jsonl"
/** Journals open in this process (the pid lock cannot tell two of them apart). */
const openHere = new Set<string>()
const LOCK_FILE = "journal.lock"

const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"
  }
}

export class JournalCorrupt extends Error {
  readonly _tag = "JournalCorrupt" as const
  readonly line: number
  constructor(line: number) {
    super(`reconciliation journal line ${line} is not readable and is not the last one: not a torn write. ` +
      "Nothing was changed; copy the file aside and repair or remove that line by hand before the game starts again.")
    this.line = line
  }
}

/**
 * Folds journal lines into entries. Only the last line may be unreadable: torn
 * by a crash in the middle of its write, its append never returned, so the
 * game never went on with it (cut off on open). An unreadable line with more
 * after it is damage, not a torn write: JournalCorrupt, and nothing is cut.
 */
export const foldLines = (text: string): { entries: Map<string, JournalEntry>; validBytes: number } => {
  const entries = new Map<string, JournalEntry>()
  let validBytes = 0
  let offset = 0
  const lines = text.split("\n")
  for (const [index, raw] of lines.entries()) {
    const lineBytes = Buffer.byteLength(raw) + 1
    if (offset + lineBytes > Buffer.byteLength(text)) break // no newline: torn
    offset += lineBytes
    if (raw.trim() === "") {
      validBytes = offset
      continue
    }
    let line: JournalLine
    try {
      line = JSON.parse(raw) as JournalLine
    } catch {
      if (lines.slice(index + 1).some((l) => l.trim() !== "")) throw new JournalCorrupt(index + 1)
      break
    }
    validBytes = offset
    if (line.t === "movement") {
      if (!entries.has(line.id)) entries.set(line.id, { id: line.id, at: line.at, cause: line.cause, movement: line.movement, state: "pending" })
      continue
    }
    const e = entries.get(line.id)
    if (e === undefined) continue
    if (line.t === "applied") {
      e.state = "applied"
      e.result = line.result
      e.appliedAt = line.at
    } else if (line.t === "refused") {
      e.state = "refused"
      e.refusal = { code: line.code, message: line.message, advice: line.advice, at: line.at }
    } else if (line.t === "retry" && e.state === "refused") {
      e.state = "pending"
      e.retried = true
    }
  }
  return { entries, validBytes }
}

/**
 * The durable local reconciliation journal of the permissive fallback: an
 * append-only JSON-lines file. A movement is written and fsync'ed before the
 * game is told it may go on, so a crash right after cannot lose it; its
 * outcome (applied / refused) is appended when it has been replayed. Replays
 * use the movement's own idempotency key, so replaying one that had in fact
 * reached the service (the answer was lost, or the process died before
 * writing `applied`) moves nothing twice.
 *
 * One process per directory (a pid lock file). On open, a torn last line is
 * cut off; a journal with nothing pending is archived as journal-<ms>.jsonl
 * (the report reads those too) and a fresh one started. A refusal archived
 * that way can still be retried: `retry` finds it in the archives and puts it
 * back in line in the current file.
 */
export class ReconciliationJournal {
  private fd: number
  private readonly entries: Map<string, JournalEntry>
  private size: number
  private closed = false

  readonly dir: string

  private constructor(dir: string, fd: number, entries: Map<string, JournalEntry>, size: number) {
    this.dir = dir
    this.fd = fd
    this.entries = entries
    this.size = size
  }

  static open(dir: string): ReconciliationJournal {
    mkdirSync(dir, { recursive: true })
    const key = realpathSync(dir)
    if (openHere.has(key)) throw new JournalLocked(dir, process.pid)
    const lock = join(dir, LOCK_FILE)
    if (existsSync(lock)) {
      const holder = Number(readFileSync(lock, "utf8").trim())
      if (Number.isInteger(holder) && holder !== process.pid && isAlive(holder)) throw new JournalLocked(dir, holder)
    }
    writeFileSync(lock, `${process.pid}\n`, { mode: 0o600 })
    const path = join(dir, JOURNAL_FILE)
    let { entries, validBytes } = existsSync(path) ? foldLines(readFileSync(path, "utf8")) : { entries: new Map<string, JournalEntry>(), validBytes: 0 }
    if (entries.size > 0 && [...entries.values()].every((e) => e.state !== "pending")) {
      renameSync(path, join(dir, `journal-${Date.now()}.jsonl`))
      entries = new Map()
      validBytes = 0
    }
    const fd = openSync(path, "a+", 0o600)
    if (fstatSync(fd).size > validBytes) {
      ftruncateSync(fd, validBytes)
      fsyncSync(fd)
    }
    openHere.add(key)
    return new ReconciliationJournal(dir, fd, entries, validBytes)
  }

  private write(line: JournalLine): void {
    if (this.closed) throw new Error("the reconciliation journal is closed")
    const bytes = Buffer.from(`${JSON.stringify(line)}\n`)
    let written = 0
    while (written < bytes.length) written += writeSync(this.fd, bytes, written)
    fsyncSync(this.fd)
    this.size += bytes.length
  }

  /** Records a movement the game goes on with; durable (fsync'ed) when this returns. */
  append(movement: Movement, cause: JournalCause): JournalEntry {
    const entry: JournalEntry = { id: randomUUID(), at: Date.now(), cause, movement, state: "pending" }
    this.write({ t: "movement", id: entry.id, at: entry.at, cause, movement })
    this.entries.set(entry.id, entry)
    return entry
  }

  markApplied(id: string, result: MovementResult): void {
    const e = this.entries.get(id)
    if (e === undefined || e.state !== "pending") return
    const at = Date.now()
    this.write({ t: "applied", id, at, result })
    e.state = "applied"
    e.result = result
    e.appliedAt = at
  }

  markRefused(id: string, code: string, message: string, advice: string): void {
    const e = this.entries.get(id)
    if (e === undefined || e.state !== "pending") return
    const at = Date.now()
    this.write({ t: "refused", id, at, code, message, advice })
    e.state = "refused"
    e.refusal = { code, message, advice, at }
  }

  /**
   * Puts a refused movement back in line, after the operator fixed its cause. One archived with a
   * settled journal (a game restart archives it) is found there and journaled here again first: a
   * crash right after that line leaves it pending, which is what the retry asked for.
   */
  retry(id: string): boolean {
    let e = this.entries.get(id)
    if (e === undefined) {
      const archived = readJournalDir(this.dir).find((x) => x.id === id)
      if (archived === undefined || archived.state !== "refused") return false
      this.write({ t: "movement", id, at: archived.at, cause: archived.cause, movement: archived.movement })
      e = { ...archived }
      this.entries.set(id, e)
    }
    if (e.state !== "refused") return false
    this.write({ t: "retry", id, at: Date.now() })
    e.state = "pending"
    e.retried = true
    return true
  }

  /** Pending movements in the order they were permitted (the order they are replayed in). */
  pending(): Array<JournalEntry> {
    return [...this.entries.values()].filter((e) => e.state === "pending")
  }

  all(): ReadonlyArray<JournalEntry> {
    return [...this.entries.values()]
  }

  /** Whether a movement of this table or of one of these players is still waiting: a newer one must wait behind it. */
  hasPendingFor(movement: Movement): boolean {
    const related = sharesTableOrPlayer(movement)
    for (const e of this.entries.values()) if (e.state === "pending" && related(e.movement)) return true
    return false
  }

  stats(now = Date.now()): { readonly pending: number; readonly oldestAgeMs: number; readonly bytes: number; readonly refused: number } {
    let pending = 0
    let refused = 0
    let oldest = now
    for (const e of this.entries.values()) {
      if (e.state === "pending") {
        pending++
        oldest = Math.min(oldest, e.at)
      } else if (e.state === "refused") refused++
    }
    return { pending, oldestAgeMs: now - oldest, bytes: this.size, refused }
  }

  /**
   * Starts a new file when nothing is pending and this one has grown past
   * `minBytes`: the settled one is kept as journal-<ms>.jsonl (the report reads it).
   */
  rotateIfSettled(minBytes: number): boolean {
    if (this.closed || this.size < minBytes || [...this.entries.values()].some((e) => e.state === "pending")) return false
    closeSync(this.fd)
    renameSync(join(this.dir, JOURNAL_FILE), join(this.dir, `journal-${Date.now()}.jsonl`))
    this.fd = openSync(join(this.dir, JOURNAL_FILE), "a+", 0o600)
    this.entries.clear()
    this.size = 0
    return true
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    closeSync(this.fd)
    rmSync(join(this.dir, LOCK_FILE), { force: true })
    openHere.delete(realpathSync(this.dir))
  }
}

/**
 * Every journal file of a directory (archives first, the current one last), folded: what the report
 * reads. A refusal retried from an archive is one entry, as the later file has it.
 */
export const readJournalDir = (dir: string): Array<JournalEntry> => {
  if (!existsSync(dir)) return []
  const files = readdirSync(dir)
    .filter((f) => /^journal(-\d+)?\.jsonl$/.test(f))
    .sort((a, b) => (a === JOURNAL_FILE ? 1 : b === JOURNAL_FILE ? -1 : a.localeCompare(b, "en", { numeric: true })))
  const byId = new Map<string, JournalEntry>()
  for (const f of files) {
    // A later file's state of an entry replaces the earlier one in its place (the order permitted).
    for (const e of foldLines(readFileSync(join(dir, f), "utf8")).entries.values()) byId.set(e.id, e)
  }
  return [...byId.values()]
}

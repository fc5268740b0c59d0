import { mkdirSync, readFileSync } from "node:fs"
import { appendFile, open, rename, type FileHandle } from "node:fs/promises"
import { dirname } from "node:path"
import type { Command } from "../domain/commands.ts"

export interface QueuedCredit {
  readonly id: string
  readonly enqueuedAt: number
  readonly command: Command
}

type Line =
  | { readonly t: "cmd"; readonly id: string; readonly at: number; readonly command: Command }
  | { readonly t: "done"; readonly id: string }

/**
 * The durable queue's file: append-only JSON lines, fsync'ed before a
 * command is acknowledged. A command line is pending until a `done` line
 * names it. A torn last line (crash mid-write) was never acknowledged and is
 * ignored. When nothing is pending the file is replaced by an empty one.
 */
export class CreditJournal {
  private readonly path: string
  private handle: FileHandle | undefined
  private readonly pending = new Map<string, QueuedCredit>()

  private constructor(path: string) {
    this.path = path
  }

  static async open(path: string): Promise<CreditJournal> {
    mkdirSync(dirname(path), { recursive: true })
    const journal = new CreditJournal(path)
    let text = ""
    try {
      text = readFileSync(path, "utf8")
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e
    }
    for (const raw of text.split("\n")) {
      if (raw.trim() === "") continue
      let line: Line
      try {
        line = JSON.parse(raw) as Line
      } catch {
        continue
      }
      if (line.t === "cmd") journal.pending.set(line.id, { id: line.id, enqueuedAt: line.at, command: line.command })
      else journal.pending.delete(line.id)
    }
    journal.handle = await open(path, "a", 0o600)
    return journal
  }

  /** Pending commands in the order they were accepted. */
  list(): ReadonlyArray<QueuedCredit> {
    return [...this.pending.values()]
  }

  get size(): number {
    return this.pending.size
  }

  async append(credit: QueuedCredit): Promise<void> {
    await this.write({ t: "cmd", id: credit.id, at: credit.enqueuedAt, command: credit.command })
    this.pending.set(credit.id, credit)
  }

  async markDone(id: string): Promise<void> {
    await this.write({ t: "done", id })
    this.pending.delete(id)
    if (this.pending.size === 0) await this.compact()
  }

  async close(): Promise<void> {
    await this.handle?.close()
    this.handle = undefined
  }

  private async write(line: Line): Promise<void> {
    if (!this.handle) throw new Error("credit journal is closed")
    await this.handle.write(`${JSON.stringify(line)}\n`)
    await this.handle.sync()
  }

  private async compact(): Promise<void> {
    const tmp = `${this.path}.tmp`
    const fresh = await open(tmp, "w", 0o600)
    await fresh.sync()
    await fresh.close()
    await this.handle?.close()
    await rename(tmp, this.path)
    this.handle = await open(this.path, "a", 0o600)
  }
}

/** Commands that failed on replay, one JSON line each, for reconciliation by a person. */
export const appendDeadLetter = (path: string, record: unknown): Promise<void> =>
  appendFile(path, `${JSON.stringify(record)}\n`, { mode: 0o600 })

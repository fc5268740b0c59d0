import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { join, resolve } from "node:path"
import { Context, Effect, Layer, Schema } from "effect"
import { AppConfig } from "../config.ts"

export class DataDirInUse extends Schema.TaggedError<DataDirInUse>()("DataDirInUse", {
  dir: Schema.String,
  pid: Schema.Number
}) {
  override get message() {
    return `DATA_DIR ${this.dir} is in use by process ${this.pid}; give each instance its own DATA_DIR`
  }
}

const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"
  }
}

/**
 * One service process per DATA_DIR. The credit queue journal and the private
 * redis-server live there: two instances sharing it would interleave journal
 * writes, and the second would take the first one's redis-server for an
 * orphan. A second instance on the same Redis needs its own DATA_DIR.
 */
export class DataDirLock extends Context.Service<DataDirLock, { readonly dir: string }>()("balance/DataDirLock") {
  static readonly layer = Layer.effect(DataDirLock, Effect.gen(function*() {
    const dir = resolve(yield* AppConfig.dataDir)
    const file = join(dir, "balance-service.pid")
    yield* Effect.acquireRelease(
      Effect.gen(function*() {
        mkdirSync(dir, { recursive: true })
        let holder: number | undefined
        try {
          holder = Number(readFileSync(file, "utf8").trim())
        } catch {
          holder = undefined
        }
        if (holder !== undefined && Number.isInteger(holder) && holder !== process.pid && isAlive(holder)) {
          return yield* new DataDirInUse({ dir, pid: holder })
        }
        writeFileSync(file, `${process.pid}\n`, { mode: 0o600 })
      }),
      () => Effect.sync(() => rmSync(file, { force: true }))
    )
    return DataDirLock.of({ dir })
  }))
}

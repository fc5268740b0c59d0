/**
 * fsync latency of a directory's file system while a phase runs: appends a
 * record the size of one apply's AOF entry to a file there and fdatasyncs it,
 * every `intervalMs`, through libuv's thread pool (the load generator's main
 * thread stays free). In the Redis data directory it sees the disk as Redis'
 * `appendfsync always` does in the same window; Redis itself only reports
 * the worst fsync of each second (LATENCY HISTORY), not percentiles.
 */
import { open, rm } from "node:fs/promises"
import { join } from "node:path"
import { summarize, type Summary } from "./stats.ts"

export interface FsyncProbe {
  /** Stops probing; the fdatasync latencies in ms since start. */
  readonly stop: () => Promise<Summary>
}

export const startFsyncProbe = async (dir: string, intervalMs = 10, recordBytes = 4096): Promise<FsyncProbe> => {
  const path = join(dir, `fsync-probe-${process.pid}.bin`)
  const file = await open(path, "a")
  const record = Buffer.alloc(recordBytes, 0x61)
  const samples: Array<number> = []
  let running = true
  const loop = (async () => {
    while (running) {
      await file.write(record)
      const t0 = performance.now()
      await file.datasync()
      samples.push(performance.now() - t0)
      await new Promise((resolve) => setTimeout(resolve, intervalMs))
    }
  })()
  return {
    stop: async () => {
      running = false
      await loop
      await file.close()
      await rm(path, { force: true })
      return summarize([Float64Array.from(samples)])
    }
  }
}

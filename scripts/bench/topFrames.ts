/**
 * Top frames of a V8 CPU profile (`node --cpu-prof`), by self time, the
 * heaviest by inclusive time, busy time by stage, and which project code runs
 * the Effect runtime's samples. Used on the service's profile of the `game`
 * workload (see docs/benchmarks.md):
 *
 *   node scripts/bench/topFrames.ts <file.cpuprofile> [count]
 */
import { readFileSync } from "node:fs"
import { relative } from "node:path"

interface ProfileNode {
  readonly id: number
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number }
  readonly hitCount?: number
  readonly children?: ReadonlyArray<number>
}
interface Profile {
  readonly nodes: ReadonlyArray<ProfileNode>
  readonly samples: ReadonlyArray<number>
  readonly timeDeltas: ReadonlyArray<number>
  readonly startTime: number
  readonly endTime: number
}

export interface Frame {
  readonly frame: string
  readonly selfPct: number
  readonly totalPct: number
}

const nameOf = (n: ProfileNode) => {
  const f = n.callFrame
  const where = f.url === "" ? "" : ` ${relative(process.cwd(), f.url.replace(/^file:\/\//, ""))}:${f.lineNumber + 1}`
  return `${f.functionName || "(anonymous)"}${where}`
}

export const topFrames = (profile: Profile, count: number) => {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const parent = new Map<number, number>()
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const selfTime = new Map<number, number>()
  profile.samples.forEach((id, i) => selfTime.set(id, (selfTime.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)))
  const total = [...selfTime.values()].reduce((a, b) => a + b, 0)
  const self = new Map<string, number>()
  const inclusive = new Map<string, number>()
  for (const [id, t] of selfTime) {
    const node = byId.get(id)!
    self.set(nameOf(node), (self.get(nameOf(node)) ?? 0) + t)
    // Each distinct frame on the stack once (recursion counted once).
    const seen = new Set<string>()
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const name = nameOf(byId.get(at)!)
      if (seen.has(name)) continue
      seen.add(name)
      inclusive.set(name, (inclusive.get(name) ?? 0) + t)
    }
  }
  const pct = (t: number) => Math.round((t / total) * 1000) / 10
  const special = ["(idle)", "(program)", "(garbage collector)"].map((s) => ({ frame: s, pct: pct(self.get(s) ?? 0) }))
  const busy = [...self].filter(([name]) => !name.startsWith("(idle)") && !name.startsWith("(program)") && !name.startsWith("(garbage collector)") && !name.startsWith("(root)"))
  const frames: Array<Frame> = busy.sort((a, b) => b[1] - a[1]).slice(0, count).map(([frame, t]) => ({
    frame,
    selfPct: pct(t),
    totalPct: pct(inclusive.get(frame) ?? 0)
  }))
  const heaviest = [...inclusive].filter(([name]) => !name.startsWith("(root)")).sort((a, b) => b[1] - a[1]).slice(0, count)
    .map(([frame, t]) => ({ frame, totalPct: pct(t) }))
  return { seconds: Math.round((profile.endTime - profile.startTime) / 1e4) / 100, special, frames, heaviest }
}

/**
 * Busy time by stage of a call, from each sample's stack: the innermost frame
 * that names a stage wins (so planning inside the Effect run loop counts as
 * planning, and what is left in the run loop is the runtime itself).
 */
const STAGES: ReadonlyArray<readonly [string, (frame: ProfileNode["callFrame"]) => boolean]> = [
  ["request decoding (decodeRequests, Schema)", (f) => f.url.includes("decodeRequests")],
  ["planning (planner, plan, checksums)", (f) => /dist\/domain\//.test(f.url)],
  ["idempotency fingerprint", (f) => f.url.includes("fingerprint")],
  ["apply arguments (scriptLayout, JSON)", (f) => f.url.includes("scriptLayout")],
  ["response encoding", (f) => f.url.includes("encodeResponses")],
  ["Redis client: send (ioredis, socket write)", (f) => f.functionName === "sendCommand" || f.url.includes("ioredis/built/Script") || f.url.includes("ioredis/built/Command")],
  ["Redis client: receive (ioredis parser, reply)", (f) => f.url.includes("ioredis") || f.url.includes("redis-parser")],
  ["gRPC send (grpc-js respond, http2)", (f) => f.functionName === "respond" || f.functionName === "sendMessage" || f.functionName === "sendUnaryMessage"],
  ["prom-client metrics", (f) => f.url.includes("prom-client")],
  // The history tier: the PostgreSQL client (its socket writes too) and the archiver's own code.
  // Both run inside Effect's run loop, which counted them as the runtime before they were named.
  ["PostgreSQL client (@effect/sql-pg, socket write)", (f) => f.url.includes("@effect/sql-pg")],
  ["archiver and history store (dist/archive, dist/history)", (f) => /dist\/(archive|history)\//.test(f.url)],
  ["Effect runtime (fibers, spans, layers of the call)", (f) => f.url.includes("node_modules/effect/")],
  ["gRPC receive (grpc-js, http2, protobuf)", (f) => f.url.includes("grpc-js") || f.url.includes("protobufjs") || f.url.includes("node:internal/http2")]
]

export const breakdown = (profile: Profile) => {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const parent = new Map<number, number>()
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const stageOf = new Map<number, string>()
  const classify = (id: number): string => {
    const known = stageOf.get(id)
    if (known) return known
    const node = byId.get(id)!
    const name = node.callFrame.functionName
    let stage: string
    if (name === "(idle)" || name === "(program)" || name === "(garbage collector)") stage = name
    else {
      // A named stage anywhere on the stack wins (innermost first); else the runtime or grpc-js that ran it.
      const stack: Array<ProfileNode["callFrame"]> = []
      for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) stack.push(byId.get(at)!.callFrame)
      const named = (list: typeof STAGES) => {
        for (const frame of stack) {
          const hit = list.find(([, test]) => test(frame))
          if (hit) return hit[0]
        }
        return undefined
      }
      stage = named(STAGES.slice(0, -2)) ?? named(STAGES.slice(-2)) ?? "other (node internals, timers, sockets)"
    }
    stageOf.set(id, stage)
    return stage
  }
  const time = new Map<string, number>()
  profile.samples.forEach((id, i) => {
    const stage = classify(id)
    time.set(stage, (time.get(stage) ?? 0) + (profile.timeDeltas[i] ?? 0))
  })
  const busy = [...time].filter(([k]) => k !== "(idle)").reduce((n, [, t]) => n + t, 0)
  return [...time].filter(([k]) => k !== "(idle)").sort((a, b) => b[1] - a[1])
    .map(([stage, t]) => ({ stage, busyPct: Math.round((t / busy) * 1000) / 10 }))
}

/**
 * The Effect runtime's samples by the innermost project frame (dist/ or src/, not node_modules)
 * above them: which of our code runs the fiber steps (a call's start in the gRPC handler, its
 * resumption after the Redis reply, ...). Shares of the runtime's own samples.
 */
export const effectRuntimeOwners = (profile: Profile, count: number) => {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const parent = new Map<number, number>()
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const isEffect = (url: string) => url.includes("/node_modules/effect/")
  const isOurs = (url: string) => !url.includes("/node_modules/") && /\/(dist|src)\//.test(url)
  const owners = new Map<string, number>()
  let total = 0
  for (const id of profile.samples) {
    if (!isEffect(byId.get(id)!.callFrame.url)) continue
    total += 1
    let owner = "(no project frame)"
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const node = byId.get(at)!
      if (isOurs(node.callFrame.url)) {
        owner = nameOf(node)
        break
      }
    }
    owners.set(owner, (owners.get(owner) ?? 0) + 1)
  }
  return [...owners].sort((a, b) => b[1] - a[1]).slice(0, count)
    .map(([frame, n]) => ({ frame, pct: Math.round((n / Math.max(1, total)) * 1000) / 10 }))
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const file = process.argv[2]
  if (!file) throw new Error("usage: node scripts/bench/topFrames.ts <file.cpuprofile> [count]")
  const count = Number(process.argv[3] ?? "15")
  const r = topFrames(JSON.parse(readFileSync(file, "utf8")) as Profile, count)
  console.log(`${r.seconds}s profiled; ${r.special.map((s) => `${s.frame} ${s.pct}%`).join(", ")}`)
  console.log("self time:")
  for (const f of r.frames) console.log(`  ${String(f.selfPct).padStart(5)}%  (total ${String(f.totalPct).padStart(5)}%)  ${f.frame}`)
  console.log("inclusive time:")
  for (const f of r.heaviest) console.log(`  ${String(f.totalPct).padStart(5)}%  ${f.frame}`)
  console.log("busy time by stage (innermost stage on the stack):")
  for (const b of breakdown(JSON.parse(readFileSync(file, "utf8")) as Profile)) console.log(`  ${String(b.busyPct).padStart(5)}%  ${b.stage}`)
  console.log("Effect runtime samples by the project frame that runs them:")
  for (const o of effectRuntimeOwners(JSON.parse(readFileSync(file, "utf8")) as Profile, 8)) console.log(`  ${String(o.pct).padStart(5)}%  ${o.frame}`)
}

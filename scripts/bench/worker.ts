/**
 * One load-generator thread: its own grpc-js client (its own channel and
 * HTTP/2 connection), a share of the tables, one call in flight per table.
 *
 * Protocol with the main thread (bench/loadGenerator.ts):
 *   <- workerData            target, workload, tables, phase tag
 *   -> { type: "ready" }     after EnsureAccount of every wallet it will use
 *   <- "go"                  start the loops (warm-up: nothing recorded)
 *   <- "measure"            record every call started from now on
 *   <- "snapshot"  -> { type: "snapshot", completed }   (soak progress)
 *   <- "stop"                stop recording and starting actions; finish the current one
 *   -> { type: "done", ... } per-method latency samples, counts, errors
 */
import { parentPort, workerData } from "node:worker_threads"
import * as grpc from "@grpc/grpc-js"
import { benchMetadata, loadBalanceClientConstructor, type Message } from "./proto.ts"
import { Samples } from "./stats.ts"
import { accountsOf, INITIAL_BALANCE, type LoopContext, loopOf, prng, type WorkloadName } from "./workloads.ts"

export interface WorkerInput {
  readonly address: string
  readonly workload: WorkloadName
  readonly tag: string
  readonly workerIndex: number
  readonly tables: ReadonlyArray<number>
  readonly deadlineMs: number
}

export interface WorkerResult {
  readonly type: "done"
  readonly samples: Record<string, Float64Array>
  readonly errors: Record<string, number>
  readonly refusals: Record<string, number>
  readonly errorSamples: ReadonlyArray<string>
  readonly restarts: number
}

/** In-band refusals the workloads may legitimately meet. They track every chip, so: none. */
const EXPECTED_REFUSALS: ReadonlySet<string> = new Set()

const input = workerData as WorkerInput
const port = parentPort!
const Client = loadBalanceClientConstructor()
const client = new Client(input.address, grpc.credentials.createInsecure()) as grpc.Client & Message

let recording = false
let stopped = false
let completed = 0
let restarts = 0
let keySeq = 0
const samples = new Map<string, Samples>()
const errors: Record<string, number> = {}
const refusals: Record<string, number> = {}
const errorSamples: Array<string> = []

const noteError = (method: string, what: string) => {
  errors[method] = (errors[method] ?? 0) + 1
  if (errorSamples.length < 10) errorSamples.push(`${method}: ${what}`)
}

const rawCall = (method: string, request: Message): Promise<{ error: grpc.ServiceError | null; response: Message }> =>
  new Promise((resolve) => {
    client[method](request, benchMetadata(method), { deadline: Date.now() + input.deadlineMs }, (error: grpc.ServiceError | null, response: Message) =>
      resolve({ error, response }))
  })

const rpc = async (method: string, request: Message): Promise<Message | undefined> => {
  const measured = recording
  const started = performance.now()
  const { error, response } = await rawCall(method, request)
  const ms = performance.now() - started
  if (measured) {
    completed += 1
    let list = samples.get(method)
    if (!list) samples.set(method, (list = new Samples()))
    list.push(ms)
  }
  if (error) {
    noteError(method, `${grpc.status[error.code] ?? error.code} ${error.details}`)
    return undefined
  }
  if (response.ok === false) {
    const code = String(response.error)
    refusals[code] = (refusals[code] ?? 0) + 1
    if (!EXPECTED_REFUSALS.has(code)) {
      noteError(method, `ok=false ${code} ${response.error_message ?? ""}`)
      return undefined
    }
  }
  return response
}

const ctxFor = (t: number): LoopContext => ({
  rpc,
  stopped: () => stopped,
  random: prng(0x9e3779b1 ^ (t * 2654435761)),
  key: () => `${input.tag}-w${input.workerIndex}-${++keySeq}`
})

/** EnsureAccount of every wallet, a few at a time, before anything is measured. */
const preload = async () => {
  const wallets = input.tables.flatMap((t) => accountsOf(input.workload, input.tag, t))
  let next = 0
  const one = async () => {
    while (next < wallets.length) {
      const account = wallets[next++]!
      const { error } = await rawCall("EnsureAccount", { account_id: account, initial_balance: String(INITIAL_BALANCE) })
      if (error) throw new Error(`EnsureAccount ${account}: ${error.message}`)
    }
  }
  await Promise.all(Array.from({ length: 8 }, one))
}

const runTable = async (t: number) => {
  const loop = loopOf(input.workload)
  const ctx = ctxFor(t)
  for (let generation = 0; !stopped; generation++) {
    if (await loop(ctx, input.tag, t, generation)) return
    restarts += 1
  }
}

let loops: Promise<unknown> | undefined

port.on("message", (message: string) => {
  switch (message) {
    case "go":
      loops = Promise.all(input.tables.map(runTable))
      break
    case "measure":
      recording = true
      break
    case "snapshot":
      port.postMessage({ type: "snapshot", completed })
      break
    case "stop":
      recording = false
      stopped = true
      void (loops ?? Promise.resolve()).then(() => {
        const out: Record<string, Float64Array> = {}
        for (const [method, list] of samples) out[method] = list.toArray()
        const result: WorkerResult = { type: "done", samples: out, errors, refusals, errorSamples, restarts }
        port.postMessage(result, Object.values(out).map((a) => a.buffer as ArrayBuffer))
        client.close()
      })
      break
  }
})

preload().then(
  () => port.postMessage({ type: "ready" }),
  (e: unknown) => port.postMessage({ type: "failed", reason: e instanceof Error ? e.message : String(e) })
)

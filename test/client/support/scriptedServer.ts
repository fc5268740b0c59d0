import * as grpc from "@grpc/grpc-js"
import { contract } from "../../../client/src/transport/contract.ts"

/**
 * A BalanceService whose answers a test scripts: which status each attempt
 * gets, or no answer at all (a hang). It records what each attempt carried
 * (request, metadata, the deadline grpc-js derived from grpc-timeout), so a
 * test can check what the client really sent. A fault injector for the
 * client's call core; the real service is used everywhere else.
 */
export interface ReceivedCall {
  readonly method: string
  readonly request: Record<string, unknown>
  readonly metadata: grpc.Metadata
  readonly deadline: grpc.Deadline
  /** Set when the client went away (deadline passed or cancelled) before an answer. */
  cancelled: boolean
}

export type Script = (call: ReceivedCall, attempt: number) => { readonly status: grpc.status } | { readonly response: object } | "hang"

export const startScriptedServer = async (script: Script) => {
  const received: Array<ReceivedCall> = []
  const server = new grpc.Server()
  const implementation: grpc.UntypedServiceImplementation = {}
  for (const method of Object.keys(contract().balance)) {
    implementation[method] = (call: grpc.ServerUnaryCall<Record<string, unknown>, object>, callback: grpc.sendUnaryData<object>) => {
      const r: ReceivedCall = { method, request: call.request, metadata: call.metadata, deadline: call.getDeadline(), cancelled: false }
      received.push(r)
      call.on("cancelled", () => void (r.cancelled = true))
      const answer = script(r, received.filter((x) => x.method === method).length)
      if (answer === "hang") return
      if ("status" in answer) callback({ code: answer.status, details: "scripted" })
      else callback(null, answer.response)
    }
  }
  server.addService(contract().balance, implementation)
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p)))
  )
  return { address: `127.0.0.1:${port}`, received, close: () => server.forceShutdown() }
}

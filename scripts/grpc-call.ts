/**
 * A tiny gRPC client for trying the API by hand (grpcurl works too, through reflection):
 *
 *   node scripts/grpc-call.ts GetBalance '{"account_id":"alice"}'
 *   GRPC_TARGET=127.0.0.1:50051 GRPC_AUTH_TOKEN=... node scripts/grpc-call.ts ReserveForBuyIn '{...}'
 *
 * Fields are the proto's snake_case names; int64 values are strings. Prints the response as JSON;
 * WatchAccount prints one line per message until Ctrl-C.
 */
import * as grpc from "@grpc/grpc-js"
import * as protoLoader from "@grpc/proto-loader"
import { CLIENT_LOADER_OPTIONS, PROTO_FILES } from "../src/api/grpc/protoDefinition.ts"

const [method, body = "{}"] = process.argv.slice(2)
if (!method) {
  console.error("usage: node scripts/grpc-call.ts <Method> '<json request>'")
  process.exit(2)
}
const definition = protoLoader.loadSync([...PROTO_FILES], CLIENT_LOADER_OPTIONS)
// biome-ignore lint: the loaded package is untyped
const pkg = grpc.loadPackageDefinition(definition) as any
const client = new pkg.balance.BalanceService(process.env.GRPC_TARGET ?? "127.0.0.1:50051", grpc.credentials.createInsecure())
const metadata = new grpc.Metadata()
if (process.env.GRPC_AUTH_TOKEN) metadata.set("authorization", `Bearer ${process.env.GRPC_AUTH_TOKEN}`)
const request = JSON.parse(body) as object

if (method === "WatchAccount") {
  const stream = client.WatchAccount(request, metadata)
  stream.on("data", (m: object) => console.log(JSON.stringify(m)))
  stream.on("error", (e: grpc.ServiceError) => {
    if (e.code !== grpc.status.CANCELLED) console.error(`${grpc.status[e.code]}: ${e.details}`)
    process.exit(e.code === grpc.status.CANCELLED ? 0 : 1)
  })
  process.on("SIGINT", () => stream.cancel())
} else {
  if (typeof client[method] !== "function") {
    console.error(`unknown method ${method}`)
    process.exit(2)
  }
  client[method](request, metadata, { deadline: Date.now() + 10_000 }, (error: grpc.ServiceError | null, response: object) => {
    if (error) {
      console.error(`${grpc.status[error.code]}: ${error.details}`)
      process.exit(1)
    }
    console.log(JSON.stringify(response))
    client.close()
  })
}

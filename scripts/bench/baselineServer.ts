/**
 * The do-nothing reference: a plain grpc-js server with the service's own
 * contract that answers every rpc with a constant (no decoding beyond what
 * grpc-js does, no storage). Whatever it costs per call is the floor that
 * grpc-js and the load generator set on this machine.
 *
 *   node scripts/bench/baselineServer.ts <port>
 *
 * Prints `listening <port>` once bound; stops on SIGTERM.
 */
import * as grpc from "@grpc/grpc-js"
import { loadBalanceServiceDefinition, type Message } from "./proto.ts"

const port = Number(process.argv[2] ?? "0")

// Constants of about the size of the service's answers (ids are UUID-sized), so the wire work is comparable.
const ID = "00000000-0000-4000-8000-000000000000"
const RESPONSES: Readonly<Record<string, Message>> = {
  GetBalance: { accountId: "baseline", balance: "1000000000", availableBalance: "1000000000", currency: "CHIPS", version: "1", stale: false, held: "0" },
  EnsureAccount: { accountId: "baseline", balance: "1000000000", created: false },
  ReserveForBuyIn: { ok: true, reservationId: ID, availableBalance: "1000000000", expiresAtMs: "1800000000000" },
  CommitReservation: { ok: true, transactionId: ID, newBalance: "999999000" },
  ReleaseReservation: { ok: true, availableBalance: "1000000000" },
  ProcessCashOut: { ok: true, transactionId: ID, newBalance: "1000000000", stackBalance: "0" },
  RecordContribution: { ok: true, totalPot: "100", seatContribution: "50", stackBalance: "950", transactionId: ID },
  SettlePot: { ok: true, results: [{ accountId: "baseline", transactionId: ID, amount: "100", newBalance: "1050", seatId: 1 }], rake: "0", normalised: false },
  CancelPot: { ok: true, refunds: [] },
  Deposit: { ok: true, transactionId: ID, accountId: "baseline", amount: "1", balance: "1", availableBalance: "1" },
  Withdraw: { ok: true, transactionId: ID, accountId: "baseline", amount: "1", balance: "0", availableBalance: "0" },
  GetReservation: { ok: true, reservationId: ID, status: "HELD" },
  GetTableStack: { ok: true, balance: "0", version: "0" },
  GetPot: { ok: true, status: "ACTIVE", balance: "0" },
  ListLedgerEntries: { ok: true, entries: [], nextAfterSeq: "0" }
}

const definition = loadBalanceServiceDefinition()
const implementation: grpc.UntypedServiceImplementation = {}
for (const method of Object.keys(definition)) {
  const spec = definition[method]!
  if (spec.responseStream) {
    implementation[method] = (call: grpc.ServerWritableStream<Message, Message>) => call.end()
  } else {
    const response = RESPONSES[method] ?? { ok: true }
    implementation[method] = (_call: grpc.ServerUnaryCall<Message, Message>, callback: grpc.sendUnaryData<Message>) =>
      callback(null, response)
  }
}

const server = new grpc.Server()
server.addService(definition, implementation)
server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (error, bound) => {
  if (error) {
    console.error(`baseline: cannot bind: ${error.message}`)
    process.exit(1)
  }
  console.log(`listening ${bound}`)
})
process.on("SIGTERM", () => server.tryShutdown(() => process.exit(0)))

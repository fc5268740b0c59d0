/** The service's own contract (proto/balance.proto), loaded the way each side of the benchmark needs it. */
import { fileURLToPath } from "node:url"
import * as grpc from "@grpc/grpc-js"
import * as protoLoader from "@grpc/proto-loader"

export const PROTO_DIR = fileURLToPath(new URL("../../proto/", import.meta.url))

// biome-ignore lint: wire messages are untyped here
export type Message = Record<string, any>

/** Client side: snake_case fields (keepCase), int64 as strings, as the game's client sees them. */
export const loadBalanceClientConstructor = (): grpc.ServiceClientConstructor => {
  const definition = protoLoader.loadSync(["balance.proto"], {
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
    includeDirs: [PROTO_DIR]
  })
  const pkg = grpc.loadPackageDefinition(definition) as Message
  return pkg.balance.BalanceService as grpc.ServiceClientConstructor
}

/** Server side: the same loader options as src/api/grpc/protoDefinition.ts (camelCase, int64 as strings). */
export const loadBalanceServiceDefinition = (): grpc.ServiceDefinition => {
  const definition = protoLoader.loadSync(["balance.proto", "grpc/health/v1/health.proto"], {
    keepCase: false,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
    includeDirs: [PROTO_DIR]
  })
  return definition["balance.BalanceService"] as grpc.ServiceDefinition
}

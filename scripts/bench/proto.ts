/** The service's own contract (proto/balance.proto), loaded the way each side of the benchmark needs it. */
import * as grpc from "@grpc/grpc-js"
import * as protoLoader from "@grpc/proto-loader"
import { ADMIN_METHODS } from "../../src/api/grpc/callAuth.ts"
import {
  BALANCE_SERVICE,
  CLIENT_LOADER_OPTIONS,
  LOADER_OPTIONS,
  PROTO_FILES
} from "../../src/api/grpc/protoDefinition.ts"

// biome-ignore lint: wire messages are untyped here
export type Message = Record<string, any>

/** Client side: snake_case fields (keepCase), int64 as strings, as the game's client sees them. */
export const loadBalanceClientConstructor = (): grpc.ServiceClientConstructor => {
  const pkg = grpc.loadPackageDefinition(protoLoader.loadSync([...PROTO_FILES], CLIENT_LOADER_OPTIONS)) as Message
  return pkg.balance.BalanceService as grpc.ServiceClientConstructor
}

/** Server side (the baseline): the service's own loader options (camelCase, int64 as strings). */
export const loadBalanceServiceDefinition = (): grpc.ServiceDefinition =>
  protoLoader.loadSync([...PROTO_FILES], LOADER_OPTIONS)[BALANCE_SERVICE] as grpc.ServiceDefinition

/** The ADMIN_API_KEY of the services the benchmark starts; sent as `x-admin-key` on the admin methods (Deposit, EnsureAccount). */
export const BENCH_ADMIN_KEY = "bench-admin-key"

/** The metadata of one call: the admin key where the method may need it (ADMIN_METHODS), nothing on the game's calls. */
export const benchMetadata = (method: string): grpc.Metadata => {
  const metadata = new grpc.Metadata()
  if (ADMIN_METHODS.has(method)) metadata.set("x-admin-key", BENCH_ADMIN_KEY)
  return metadata
}

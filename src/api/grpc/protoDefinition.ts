import { fileURLToPath } from "node:url"
import * as protoLoader from "@grpc/proto-loader"
import { Effect, Schema } from "effect"

/** proto/ sits at the repo root: three levels up from both src/api/grpc and dist/api/grpc. */
export const PROTO_DIR = fileURLToPath(new URL("../../../proto/", import.meta.url))
export const PROTO_FILES = ["balance.proto", "grpc/health/v1/health.proto"] as const

export const BALANCE_SERVICE = "balance.BalanceService"
export const HEALTH_SERVICE = "grpc.health.v1.Health"

/**
 * camelCase fields on the server side; int64 as strings so nothing is rounded
 * before the decoders check it; defaults so an absent field reads as "" / "0".
 */
export const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: false,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [PROTO_DIR]
}

/**
 * How a client (the game, the tests, scripts/grpc-call.ts, the benchmark's load generator)
 * sees the contract: the proto's snake_case field names, int64 as strings.
 */
export const CLIENT_LOADER_OPTIONS: protoLoader.Options = { ...LOADER_OPTIONS, keepCase: true }

export class ProtoLoadError extends Schema.TaggedError<ProtoLoadError>()("ProtoLoadError", {
  reason: Schema.String
}) {
  override get message() {
    return `cannot load the gRPC contract from ${PROTO_DIR}: ${this.reason}`
  }
}

export const loadProtoDefinition = Effect.tryPromise({
  try: () => protoLoader.load([...PROTO_FILES], LOADER_OPTIONS),
  catch: (e) => new ProtoLoadError({ reason: e instanceof Error ? e.message : String(e) })
})

import type * as grpc from "@grpc/grpc-js"
import * as protoLoader from "@grpc/proto-loader"
import { FILE_DESCRIPTORS_BASE64 } from "../generated/balanceService.ts"

/**
 * The wire view of the contract the game's existing client has: the proto's
 * snake_case names, int64 as decimal strings (never rounded), defaults filled in.
 */
const LOADER_OPTIONS: protoLoader.Options = { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true }

const varint = (n: number): Array<number> => {
  const out: Array<number> = []
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80)
    n >>>= 7
  }
  out.push(n)
  return out
}

/** A FileDescriptorSet (`repeated FileDescriptorProto file = 1`) from the generated descriptors. */
const descriptorSet = (): Buffer =>
  Buffer.concat(FILE_DESCRIPTORS_BASE64.map((b64) => {
    const file = Buffer.from(b64, "base64")
    return Buffer.concat([Buffer.from([0x0a, ...varint(file.length)]), file])
  }))

export interface Contract {
  readonly balance: grpc.ServiceDefinition
  readonly health: grpc.ServiceDefinition
  /** A message type of package balance by name ("PotWinner", ".balance.PotWinner"): its descriptor, for request checks. */
  readonly message: (typeName: string) => protoLoader.MessageTypeDefinition<unknown, unknown> | undefined
}

let loaded: Contract | undefined

/** The BalanceService and grpc.health.v1.Health definitions (paths, serializers), loaded once from the embedded descriptors. */
export const contract = (): Contract => {
  if (loaded === undefined) {
    const definition = protoLoader.loadFileDescriptorSetFromBuffer(descriptorSet(), LOADER_OPTIONS)
    loaded = {
      balance: definition["balance.BalanceService"] as grpc.ServiceDefinition,
      health: definition["grpc.health.v1.Health"] as grpc.ServiceDefinition,
      message: (typeName) =>
        definition[`balance.${typeName.replace(/^\.?balance\./, "")}`] as protoLoader.MessageTypeDefinition<unknown, unknown> | undefined
    }
  }
  return loaded
}

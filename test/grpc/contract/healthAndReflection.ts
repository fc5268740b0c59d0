import { createRequire } from "node:module"
import { dirname } from "node:path"
import { assert } from "@effect/vitest"
import * as grpc from "@grpc/grpc-js"
import * as protoLoader from "@grpc/proto-loader"
import { Effect } from "effect"
import { GrpcServerAddress } from "../../../src/api/grpc/GrpcServer.ts"
import { BalanceClient, type Message } from "../support/balanceClient.ts"
import type { ContractIt } from "../support/contractIt.ts"
import { eventually } from "../support/expectations.ts"

/** Asks the reflection service which services it knows, as grpcurl `list` does. */
const listServices = (port: number) =>
  Effect.callback<ReadonlyArray<string>, Error>((resume) => {
    const reflectionProto = createRequire(import.meta.url).resolve("@grpc/reflection/build/proto/grpc/reflection/v1/reflection.proto")
    const definition = protoLoader.loadSync("grpc/reflection/v1/reflection.proto", {
      includeDirs: [dirname(dirname(dirname(dirname(reflectionProto))))]
    })
    const pkg = grpc.loadPackageDefinition(definition) as Message
    const client = new pkg.grpc.reflection.v1.ServerReflection(`127.0.0.1:${port}`, grpc.credentials.createInsecure())
    const stream = client.ServerReflectionInfo()
    stream.on("data", (r: Message) => {
      resume(Effect.succeed(r.listServicesResponse.service.map((s: Message) => s.name)))
      stream.end()
      client.close()
    })
    stream.on("error", (e: Error) => resume(Effect.fail(e)))
    stream.write({ listServices: "*" })
    return Effect.sync(() => client.close())
  })

export const healthAndReflection = (it: ContractIt) => {
  it.effect("grpc.health.v1.Health answers SERVING for the server and BalanceService, NOT_FOUND for others", () =>
    Effect.gen(function*() {
      const client = yield* BalanceClient
      assert.strictEqual((yield* client.health("Check", { service: "" })).status, "SERVING")
      assert.strictEqual((yield* client.health("Check", { service: "balance.BalanceService" })).status, "SERVING")
      const unknown = yield* Effect.flip(client.health("Check", { service: "no.Such" }))
      assert.strictEqual(unknown.code, grpc.status.NOT_FOUND)
      const watch = yield* client.stream("health", "Watch", { service: "" })
      yield* eventually("a health status", Effect.sync(() => watch.received.length > 0))
      assert.strictEqual(watch.received[0]!.status, "SERVING")
      const unknownWatch = yield* client.stream("health", "Watch", { service: "no.Such" })
      yield* eventually("a health status", Effect.sync(() => unknownWatch.received.length > 0))
      assert.strictEqual(unknownWatch.received[0]!.status, "SERVICE_UNKNOWN")
    }))

  it.effect("server reflection lists BalanceService and Health", () =>
    Effect.gen(function*() {
      const { port } = yield* GrpcServerAddress
      const services = yield* listServices(port)
      assert.includeMembers([...services], ["balance.BalanceService", "grpc.health.v1.Health"])
    }))
}

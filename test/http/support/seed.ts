import { Effect } from "effect"
import type { Command } from "../../../src/domain/commands.ts"
import type { ResultByOp } from "../../../src/domain/responses.ts"
import { Ledger } from "../../../src/ledger/Ledger.ts"
import type { TestServer } from "./testServer.ts"

let counter = 0
/** Ids unique within the process, so tests sharing a server (and a Redis) never collide. */
export const uniqueId = (base: string) => `${base}-${process.pid}-${++counter}`

/** Runs a command on the server's own ledger, for state the HTTP API cannot create (holds, pots). */
export const execute = <C extends Command>(server: TestServer, command: C): Promise<ResultByOp[C["op"]]> =>
  server.run(Effect.map(Ledger.use((ledger) => ledger.execute(command)), (done) => done.result))

/** Runs a command on the suite server's own ledger (the layer of TestHttpServer provides it). */
export const executeCommand = <C extends Command>(command: C) =>
  Effect.map(Ledger.use((ledger) => ledger.execute(command)), (done) => done.result)

/** A fresh wallet holding `initialBalance`, created on the ledger directly. */
export const createAccount = (base: string, initialBalance = 0) =>
  Effect.suspend(() => {
    const accountId = uniqueId(base)
    return Effect.as(executeCommand({ op: "EnsureAccount", accountId, initialBalance }), accountId)
  })

export const newAccount = async (server: TestServer, base: string, initialBalance = 0) => {
  const accountId = uniqueId(base)
  await execute(server, { op: "EnsureAccount", accountId, initialBalance })
  return accountId
}

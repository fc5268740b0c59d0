import { existsSync } from "node:fs"
import { createServer, type Server } from "node:net"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { freePort } from "../../src/childProcess/serverChild.ts"
import { type LogLine, parseJsonLines, runMainToExit } from "./support/mainProcess.ts"

/** The run printed JSON lines only, nothing on stderr, and exactly one FATAL line: that line. */
const theOneFatalLine = (run: { stdout: string; stderr: string }): LogLine => {
  assert.strictEqual(run.stderr, "")
  const fatal = parseJsonLines(run.stdout).filter((l) => l.level === "FATAL")
  assert.lengthOf(fatal, 1)
  return fatal[0]!
}

/** A stack frame ("    at f (file:line)") anywhere in what was printed. */
const STACK_FRAME = /\n\s+at \S/

/** Holds `port` on 127.0.0.1 until closed, as another process would. */
const occupy = (port: number) =>
  new Promise<Server>((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(port, "127.0.0.1", () => resolve(server))
  })

describe("start-up failures", () => {
  it("a bad LOG_LEVEL (the logger itself cannot start) is one JSON fatal line too, naming the variable, exit 1", async () => {
    const run = await runMainToExit({ LOG_LEVEL: "verbose" })
    run.cleanup()
    assert.strictEqual(run.code, 1)
    const fatal = theOneFatalLine(run)
    assert.match(fatal.message, /^balance-service failed to start: invalid setting LOG_LEVEL: LOG_LEVEL must be one of .*trace, debug, info/)
    assert.strictEqual(fatal.error, "ConfigError")
    assert.lengthOf(run.stdout.trim().split("\n"), 1)
  }, 60_000)

  it("a bad setting is one JSON fatal line naming the variable, without a stack trace, exit 1", async () => {
    const run = await runMainToExit({ RESERVATION_TIMEOUT_MS: "-5" })
    run.cleanup()
    assert.strictEqual(run.code, 1)
    const fatal = theOneFatalLine(run)
    assert.strictEqual(fatal.message, "balance-service failed to start: invalid setting RESERVATION_TIMEOUT_MS: RESERVATION_TIMEOUT_MS must be greater than 0")
    assert.isUndefined(fatal.cause)
    assert.notMatch(run.stdout, STACK_FRAME)
  }, 60_000)

  it("settings are checked before anything starts: HTTP_PORT=abc generates no admin key and prints none", async () => {
    const run = await runMainToExit({ HTTP_PORT: "abc" })
    const keyFile = join(run.dataDir, "admin-api-key")
    const generated = existsSync(keyFile)
    run.cleanup()
    assert.strictEqual(run.code, 1)
    assert.strictEqual(generated, false)
    assert.include(theOneFatalLine(run).message, "invalid setting HTTP_PORT")
    assert.notMatch(run.stdout, /admin-key|X-Admin-Key/i)
    // Nothing started, so nothing stopped either.
    assert.notInclude(run.stdout, "listening")
  }, 60_000)

  for (const variable of ["HTTP_PORT", "GRPC_PORT", "METRICS_PORT"] as const) {
    it(`${variable} in use: one JSON line naming ${variable} and the port, no stack trace, nothing on stderr, exit 1`, async () => {
      // The port is chosen here and held before the service starts: it must fail on exactly this one.
      const port = await freePort()
      const holder = await occupy(port)
      try {
        const run = await runMainToExit({ [variable]: String(port) })
        run.cleanup()
        assert.strictEqual(run.code, 1)
        const fatal = theOneFatalLine(run)
        assert.include(fatal.message, `${variable} ${port} is in use`)
        assert.strictEqual(fatal.error, "PortUnavailable")
        assert.isUndefined(fatal.cause)
        assert.notMatch(run.stdout, STACK_FRAME)
      } finally {
        await new Promise((r) => holder.close(r))
      }
    }, 60_000)
  }

  it("two listeners on one port: refused before anything starts, naming both variables (not \"another process\")", async () => {
    const port = String(await freePort())
    const run = await runMainToExit({ HTTP_PORT: port, METRICS_PORT: port })
    run.cleanup()
    assert.strictEqual(run.code, 1)
    const fatal = theOneFatalLine(run)
    assert.strictEqual(fatal.message, 
      `balance-service failed to start: METRICS_PORT ${port} is also HTTP_PORT: HTTP, gRPC and metrics each need their own port; set METRICS_PORT to another one`
    )
    assert.notMatch(run.stdout, /listening|redis-server started/)
  }, 60_000)

  it("gRPC beyond loopback with no credential for the game: refused before anything starts, naming the variables", async () => {
    const run = await runMainToExit({ HOST: "0.0.0.0" })
    const generated = existsSync(join(run.dataDir, "admin-api-key"))
    run.cleanup()
    assert.strictEqual(run.code, 1)
    assert.strictEqual(generated, false)
    const fatal = theOneFatalLine(run)
    for (const variable of ["GRPC_AUTH_TOKEN", "GRPC_TLS_CA", "GRPC_HOST=127.0.0.1", "GRPC_ALLOW_UNAUTHENTICATED=true"]) {
      assert.include(fatal.message, variable)
    }
    assert.strictEqual(fatal.error, "GrpcExposedWithoutCredentials")
    // The advice is printed as written: the log's bearer-token scrubber leaves the placeholder alone.
    assert.include(fatal.message, "(the game then sends metadata authorization: Bearer <token>) or GRPC_TLS_CERT")
  }, 60_000)

  it("AUTH_DISABLED=true with gRPC beyond loopback is refused too, with or without a token (AUTH_DISABLED checks none)", async () => {
    for (const env of [{ HOST: "0.0.0.0", AUTH_DISABLED: "true" }, { GRPC_HOST: "0.0.0.0", AUTH_DISABLED: "true", GRPC_AUTH_TOKEN: "a-token-0123456789" }]) {
      const run = await runMainToExit(env)
      run.cleanup()
      assert.strictEqual(run.code, 1, JSON.stringify(env))
      const fatal = theOneFatalLine(run)
      assert.strictEqual(fatal.error, "GrpcExposedWithoutCredentials")
      assert.include(fatal.message, "with AUTH_DISABLED=true, which makes every call an admin's and checks no credential")
      assert.include(fatal.message, "GRPC_HOST=127.0.0.1")
      assert.notMatch(run.stdout, /listening|redis-server started/)
    }
  }, 60_000)

  it("an unreadable GRPC_TLS_CERT is found before anything starts: one fatal line naming it, no redis-server, no listener, no key", async () => {
    const run = await runMainToExit({ GRPC_TLS_CERT: "/nonexistent/server.crt", GRPC_TLS_KEY: "/nonexistent/server.key" })
    const generated = existsSync(join(run.dataDir, "admin-api-key"))
    run.cleanup()
    assert.strictEqual(run.code, 1)
    assert.strictEqual(generated, false)
    const fatal = theOneFatalLine(run)
    assert.include(fatal.message, "GRPC_TLS_CERT=/nonexistent/server.crt")
    assert.strictEqual(fatal.error, "TlsConfigError")
    assert.notMatch(run.stdout, /listening|redis-server started/)
  }, 60_000)
})

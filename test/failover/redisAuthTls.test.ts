import { execFileSync } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer, ManagedRuntime, Result } from "effect"
import { ledgerStore } from "../../src/app/ServiceStore.ts"
import { Ledger } from "../../src/ledger/Ledger.ts"
import { freePort } from "../../src/childProcess/serverChild.ts"
import { ledgerOn } from "../support/ledgerLayers.ts"
import { type SentinelCluster, startRedisNode, startSentinelCluster } from "../support/sentinelCluster.ts"

/** Passwords and TLS reach real servers the way the service is configured: env -> ledgerStore. */

const ledgerFromEnv = (env: Record<string, string>) =>
  ManagedRuntime.make(ledgerOn(ledgerStore.pipe(Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({
    REDIS_COMMAND_TIMEOUT_MS: "1000",
    STORE_RETRY_ATTEMPTS: "0",
    ...env
  }))))))

/** A deposit through a fresh ledger on `env`; the start failure or the answer. */
const depositOn = async (env: Record<string, string>, accountId: string) => {
  const rt = ledgerFromEnv(env)
  try {
    return await rt.runPromise(
      Ledger.use((l) =>
        Effect.gen(function*() {
          yield* l.execute({ op: "EnsureAccount", accountId, initialBalance: 0 })
          return yield* l.execute({ op: "Deposit", accountId, amount: 7, source: "ADMIN", idempotencyKey: `${accountId}-1` })
        })
      ).pipe(Effect.result)
    )
  } catch (e) {
    return Result.fail(e)
  } finally {
    await rt.dispose().catch(() => undefined)
  }
}

const failureText = (r: Result.Result<unknown, unknown>) =>
  Result.isFailure(r) ? String(r.failure instanceof Error ? r.failure.message : JSON.stringify(r.failure)) : "succeeded"

describe("Sentinel with passwords (REDIS_PASSWORD, REDIS_SENTINEL_PASSWORD)", () => {
  let cluster: SentinelCluster | undefined
  beforeAll(async () => {
    cluster = await startSentinelCluster({ replicas: 1, sentinels: 1, password: "data-pw", sentinelPassword: "sentinel-pw" })
  }, 60_000)
  afterAll(async () => {
    await cluster?.dispose()
  }, 30_000)

  const env = () => ({
    REDIS_SENTINELS: cluster!.sentinelsEnv,
    REDIS_SENTINEL_NAME: cluster!.masterName,
    REDIS_PASSWORD: "data-pw",
    REDIS_SENTINEL_PASSWORD: "sentinel-pw",
    REDIS_MIN_REPLICAS_ACK: "1",
    REDIS_KEY_PREFIX: "auth:"
  })

  it("both passwords right: writes are acknowledged (by the replica too)", async () => {
    const r = await depositOn(env(), "pw-ok")
    assert.isTrue(Result.isSuccess(r), failureText(r))
    if (Result.isSuccess(r)) assert.strictEqual(r.success.result.balance, 7)
  }, 30_000)

  it("a wrong sentinel password fails the start (the sentinel loop is abandoned at the deadline: the test's own timeout bounds it)", async () => {
    const r = await depositOn({ ...env(), REDIS_SENTINEL_PASSWORD: "nope" }, "pw-bad-sentinel")
    assert.isTrue(Result.isFailure(r))
    assert.include(failureText(r), "connect")
    assert.include(failureText(r), "WRONGPASS", "the reason reaches the error")
  }, 30_000)

  it("a wrong data node password fails the start", async () => {
    const r = await depositOn({ ...env(), REDIS_PASSWORD: "nope" }, "pw-bad-data")
    assert.isTrue(Result.isFailure(r))
    assert.include(failureText(r), "connect")
    assert.include(failureText(r), "WRONGPASS")
  }, 30_000)
})

const hasOpenssl = (() => {
  try {
    execFileSync("openssl", ["version"], { stdio: "ignore" })
    return true
  } catch {
    return false
  }
})()

describe.skipIf(!hasOpenssl)("TLS (rediss://, REDIS_TLS_CA) with REDIS_PASSWORD", () => {
  const certs = mkdtempSync(join(tmpdir(), "balance-tls-"))
  let node: Awaited<ReturnType<typeof startRedisNode>> | undefined
  let tlsPort = 0

  beforeAll(async () => {
    const ssl = (...args: Array<string>) => execFileSync("openssl", args, { cwd: certs, stdio: "ignore" })
    const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    ssl("req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "1", "-subj", "/CN=balance-test-ca")
    ssl("req", ...ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1")
    writeFileSync(join(certs, "san.ext"), "subjectAltName=IP:127.0.0.1\n")
    ssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.crt",
      "-days", "1", "-extfile", "san.ext")
    tlsPort = await freePort()
    node = await startRedisNode({
      password: "tls-pw",
      extraArgs: () => [
        "--tls-port", String(tlsPort),
        "--tls-cert-file", join(certs, "server.crt"),
        "--tls-key-file", join(certs, "server.key"),
        "--tls-ca-cert-file", join(certs, "ca.crt"),
        "--tls-auth-clients", "no"
      ]
    })
  }, 60_000)
  afterAll(async () => {
    await node?.dispose()
    rmSync(certs, { recursive: true, force: true })
  }, 30_000)

  it("rediss:// with the CA and the password: writes go through TLS", async () => {
    const r = await depositOn({
      REDIS_URL: `rediss://127.0.0.1:${tlsPort}`,
      REDIS_PASSWORD: "tls-pw",
      REDIS_TLS_CA: join(certs, "ca.crt"),
      REDIS_KEY_PREFIX: "tls:"
    }, "tls-ok")
    assert.isTrue(Result.isSuccess(r), failureText(r))
  }, 30_000)

  it("the certificate is verified: without REDIS_TLS_CA the self-signed server is refused", async () => {
    const r = await depositOn({ REDIS_URL: `rediss://127.0.0.1:${tlsPort}`, REDIS_PASSWORD: "tls-pw" }, "tls-untrusted")
    assert.isTrue(Result.isFailure(r))
    assert.include(failureText(r), "connect")
    assert.include(failureText(r), "certificate")
  }, 30_000)

  it("REDIS_TLS_CA that cannot be read fails the start naming the variable", async () => {
    const r = await depositOn({ REDIS_URL: `rediss://127.0.0.1:${tlsPort}`, REDIS_TLS_CA: join(certs, "missing.pem") }, "tls-noca")
    assert.isTrue(Result.isFailure(r))
    assert.include(failureText(r), "REDIS_TLS_CA")
  }, 30_000)
})

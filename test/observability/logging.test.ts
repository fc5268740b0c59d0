import { assert, describe, it, layer } from "@effect/vitest"
import { status } from "@grpc/grpc-js"
import { Cause, ConfigProvider, Effect, Layer, Logger, Redacted, References } from "effect"
import { makeBatchedWriter, makeJsonLogger, scrubSecrets } from "../../src/observability/Logging.ts"
import * as Logging from "../../src/observability/Logging.ts"
import { logCompletion } from "../../src/observability/RequestLog.ts"
import { MemoryStore } from "../../src/store/memory/MemoryStore.ts"
import { call, eventually, statusOf } from "../grpc/support/expectations.ts"
import { call as httpCall, hsToken, playerToken } from "../http/support/client.ts"
import { ADMIN_KEY, HS_SECRET } from "../http/support/testServer.ts"
import { makeFaultyStore } from "../support/faultyStore.ts"
import { CapturedLogs, httpBaseUrl, observedApp } from "./support/observedApp.ts"

const TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
const CALLER_SPAN = "b7ad6b7169203331"
const traceparent = `00-${TRACE_ID}-${CALLER_SPAN}-01`

const lines = Effect.map(CapturedLogs, (logs) => logs.lines())

// No OpenTelemetry here: Effect's own tracer, as the service runs without OTEL_EXPORTER_OTLP_ENDPOINT.
layer(observedApp(MemoryStore.layer), { excludeTestServices: true })("completion lines without an OpenTelemetry SDK", (it) => {
  it.effect("a gRPC call logs once on completion, in the caller's trace, with a generated request id when none was sent", () =>
    Effect.gen(function*() {
      yield* call("EnsureAccount", { account_id: "lg-a", initial_balance: "5" }, { traceparent })
      yield* eventually("the completion line", Effect.map(lines, (ls) => ls.some((l) => l.method === "EnsureAccount")))
      const mine = (yield* lines).filter((l) => l.method === "EnsureAccount")
      assert.strictEqual(mine.length, 1, "exactly one line per call")
      const line = mine[0]!
      assert.deepInclude(line, { level: "INFO", message: "grpc call", outcome: "OK", traceId: TRACE_ID, traceparent })
      assert.match(String(line.requestId), /^[0-9a-f-]{36}$/)
      assert.match(String(line.spanId), /^[0-9a-f]{16}$/)
      assert.notStrictEqual(line.spanId, CALLER_SPAN, "the server's own span, child of the caller's")
      assert.isAbove(Number(line.durationMs), 0)
      assert.match(String(line.timestamp), /^\d{4}-\d\d-\d\dT/)
    }))

  it.effect("without a traceparent, every line of a gRPC call carries the call's own fresh trace and span ids, and the next call others", () =>
    Effect.gen(function*() {
      // A refusal writes two lines (the Debug refusal and the completion line), both inside the call's span.
      for (const requestId of ["req-fresh-1", "req-fresh-2"]) {
        yield* call("Withdraw", { account_id: "lg-fresh", amount: "1", idempotency_key: "k" }, { "x-request-id": requestId })
        yield* eventually("the completion line", Effect.map(lines, (ls) => ls.some((l) => l.requestId === requestId && l.message === "grpc call")))
      }
      const ofCall = (requestId: string) => Effect.map(lines, (ls) => ls.filter((l) => l.requestId === requestId))
      const first = yield* ofCall("req-fresh-1")
      const second = yield* ofCall("req-fresh-2")
      assert.deepStrictEqual(first.map((l) => l.message), ["grpc call refused ACCOUNT_NOT_FOUND", "grpc call"])
      for (const l of [...first, ...second]) {
        assert.match(String(l.traceId), /^[0-9a-f]{32}$/, JSON.stringify(l))
        assert.match(String(l.spanId), /^[0-9a-f]{16}$/, JSON.stringify(l))
        assert.strictEqual(l.rpc, "balance.BalanceService/Withdraw")
      }
      assert.deepStrictEqual(new Set(first.map((l) => `${l.traceId}/${l.spanId}`)).size, 1, "one span for the whole call")
      assert.deepStrictEqual(new Set(second.map((l) => `${l.traceId}/${l.spanId}`)).size, 1, "one span for the whole call")
      assert.notStrictEqual(first[0]!.traceId, second[0]!.traceId, "each call without a traceparent starts its own trace")
    }))

  it.effect("a refused gRPC call logs its outcome code", () =>
    Effect.gen(function*() {
      yield* call("Withdraw", { account_id: "lg-nobody", amount: "1", idempotency_key: "k" }, { "x-request-id": "req-refused" })
      yield* eventually("the completion line", Effect.map(lines, (ls) => ls.some((l) => l.requestId === "req-refused" && l.message === "grpc call")))
      const line = (yield* lines).find((l) => l.requestId === "req-refused" && l.message === "grpc call")!
      assert.deepInclude(line, { method: "Withdraw", outcome: "ACCOUNT_NOT_FOUND", level: "INFO" })
    }))

  it.effect("an HTTP request logs once on completion, in the caller's trace (span opened by the middleware), x-request-id kept", () =>
    Effect.gen(function*() {
      const base = yield* httpBaseUrl
      const reply = yield* Effect.promise(() =>
        httpCall(base, "GET", "/api/accounts/lg-a/balance", { adminKey: ADMIN_KEY, headers: { traceparent, "x-request-id": "req-http-1" } }))
      assert.strictEqual(reply.status, 200)
      assert.strictEqual(reply.headers.get("x-request-id"), "req-http-1")
      const mine = (yield* lines).filter((l) => l.requestId === "req-http-1")
      assert.strictEqual(mine.filter((l) => l.message === "http request").length, 1)
      assert.deepInclude(mine.find((l) => l.message === "http request")!, {
        level: "INFO",
        traceId: TRACE_ID,
        method: "GET",
        route: "/api/accounts/:accountId/balance",
        outcome: 200
      })
      for (const l of mine) assert.strictEqual(l.traceId, TRACE_ID)
    }))
})

const broken = makeFaultyStore()

layer(observedApp(broken.layer), { excludeTestServices: true })("log lines inside a request", (it) => {
  it.effect("every line an HTTP or gRPC request writes carries its request id and trace, not only the completion line", () =>
    Effect.gen(function*() {
      const base = yield* httpBaseUrl
      broken.set("defect")
      try {
        const reply = yield* Effect.promise(() =>
          httpCall(base, "GET", "/api/accounts/lg-b/balance", { adminKey: ADMIN_KEY, headers: { traceparent, "x-request-id": "req-inner-http" } }))
        assert.strictEqual(reply.status, 500)
        const posted = yield* Effect.promise(() =>
          httpCall(base, "POST", "/api/accounts/lg-b/deposit", {
            adminKey: ADMIN_KEY,
            headers: { traceparent, "x-request-id": "req-inner-post", "idempotency-key": "lg-b-1" },
            body: { amount: 5, source: "ADMIN" }
          }))
        assert.strictEqual(posted.status, 500)
        yield* statusOf("GetBalance", { account_id: "lg-b" }, { traceparent, "x-request-id": "req-inner-grpc" })
      } finally {
        broken.set("none")
      }
      yield* eventually("both completion lines", Effect.map(lines, (ls) => ls.filter((l) => l.message === "http request" || l.message === "grpc call").length >= 3))
      const inTrace = (yield* lines).filter((l) => l.traceId === TRACE_ID)
      const failures = inTrace.filter((l) => l.level === "ERROR")
      assert.deepStrictEqual(failures.map((l) => l.requestId).sort(), ["req-inner-grpc", "req-inner-http", "req-inner-post"], JSON.stringify(failures))
      for (const l of inTrace) assert.include(["req-inner-grpc", "req-inner-http", "req-inner-post"], l.requestId, JSON.stringify(l))
    }))

  it.effect("a call answered UNAVAILABLE logs the store's own reason for the operator", () =>
    Effect.gen(function*() {
      broken.set("down")
      try {
        yield* statusOf("Withdraw", { account_id: "lg-b", amount: "1", idempotency_key: "lg-down", reason: "x" }, { "x-request-id": "req-down" })
      } finally {
        broken.set("none")
      }
      yield* eventually("the warning", Effect.map(lines, (ls) => ls.some((l) => l.requestId === "req-down" && l.level === "WARN")))
      const warning = (yield* lines).find((l) => l.requestId === "req-down" && l.level === "WARN")!
      assert.deepInclude(warning, { message: "grpc call failed the ledger store is unavailable; retry", reason: "test: store is down" })
    }))
})

const GRPC_TOKEN = "grpc-shared-token-5f1e2d3c4b5a69788796a5b4"
const WRONG_ADMIN_KEY = "wrong-admin-key-0123456789abcdef"
const WRONG_GRPC_TOKEN = "wrong-grpc-token-abcdef0123456789"

layer(observedApp(MemoryStore.layer, { grpcAuthToken: Redacted.make(GRPC_TOKEN) }), { excludeTestServices: true })(
  "no credentials in logs",
  (it) => {
    it.effect("after calls with the admin key, JWTs and bearer tokens (good and bad), no log line contains any of them", () =>
      Effect.gen(function*() {
        const base = yield* httpBaseUrl
        const player = yield* Effect.promise(() => playerToken("lg-p"))
        const forged = yield* Effect.promise(() => hsToken({ roles: ["admin"] }, { subject: "mallory", secret: "not-the-secret-but-long-enough-0123456789" }))
        const expired = yield* Effect.promise(() => hsToken({}, { subject: "lg-p", expiresIn: "-1m" }))
        const http = (method: string, path: string, options: Parameters<typeof httpCall>[3]) =>
          Effect.promise(() => httpCall(base, method, path, options))

        assert.strictEqual((yield* http("POST", "/api/accounts/lg-p", { adminKey: ADMIN_KEY, body: { initialBalance: 5 } })).status, 201)
        assert.strictEqual((yield* http("GET", "/api/accounts/lg-p/balance", { token: player })).status, 200)
        assert.strictEqual((yield* http("GET", "/api/accounts/lg-p/balance", { adminKey: WRONG_ADMIN_KEY })).status, 401)
        assert.strictEqual((yield* http("GET", "/api/admin/supply", { token: forged })).status, 401)
        assert.strictEqual((yield* http("GET", "/api/accounts/lg-p/balance", { token: expired })).status, 401)
        assert.strictEqual((yield* http("GET", "/api/accounts/lg-p/balance", { headers: { authorization: `Basic ${ADMIN_KEY}` } })).status, 401)
        // The token in a query string or a path: still never logged (routes are templates, not paths).
        yield* http("GET", `/api/accounts/${player}/balance?token=${player}`, { token: player })

        const bearer = { authorization: `Bearer ${GRPC_TOKEN}` }
        assert.strictEqual((yield* call("GetBalance", { account_id: "lg-p" }, bearer)).balance, "5")
        assert.strictEqual((yield* statusOf("GetBalance", { account_id: "lg-p" }, { authorization: `Bearer ${WRONG_GRPC_TOKEN}` })).code, status.UNAUTHENTICATED)
        assert.strictEqual((yield* statusOf("GetBalance", { account_id: "lg-p" }, { authorization: `Bearer ${player}` })).code, status.UNAUTHENTICATED)

        yield* eventually("all completion lines", Effect.map(lines, (ls) => ls.filter((l) => l.message === "grpc call").length >= 3))
        const captured = yield* CapturedLogs
        const all = captured.raw.join("")
        // Not vacuous: every request was logged, refusals included.
        assert.isAtLeast((yield* lines).filter((l) => l.message === "http request").length, 7)
        assert.strictEqual((yield* lines).filter((l) => l.message === "grpc call" && l.outcome === "UNAUTHENTICATED").length, 2)
        for (const secret of [ADMIN_KEY, WRONG_ADMIN_KEY, HS_SECRET, GRPC_TOKEN, WRONG_GRPC_TOKEN, player, forged, expired]) {
          assert.notInclude(all, secret)
          assert.notInclude(all, secret.split(".").at(-1)!, "not even a JWT's signature")
        }
        assert.notMatch(all, /eyJ[A-Za-z0-9_-]{4,}\./, "no JWT header or payload")
        assert.notMatch(all, /bearer\s+[^<\s"]/i)
      }))
  }
)

describe("JSON logger", () => {
  it("redacts JWTs and bearer tokens that reach a message or a cause", () => {
    const jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJwIn0.c2lnbmF0dXJlLXBhcnQ"
    const line = JSON.stringify({ message: `token ${jwt} rejected`, cause: `Error: Authorization: Bearer abc.def-123 and bearer ${jwt}` })
    const out = scrubSecrets(line)
    assert.notInclude(out, jwt)
    assert.notInclude(out, "abc.def-123")
    assert.include(out, "<redacted-jwt>")
    assert.include(out, "Bearer <redacted>")
    assert.strictEqual(scrubSecrets('{"message":"grpc call","method":"GetBalance"}'), '{"message":"grpc call","method":"GetBalance"}')
  })

  it("leaves placeholders in the service's own advice alone (Bearer <token>), still redacting a real token next to one", () => {
    const advice = '{"message":"set GRPC_AUTH_TOKEN (the game then sends metadata authorization: Bearer <token>) or send Bearer <JWT with role admin>"}'
    assert.strictEqual(scrubSecrets(advice), advice)
    assert.strictEqual(scrubSecrets('{"m":"Bearer <token> then Bearer s3cr3t"}'), '{"m":"Bearer <token> then Bearer <redacted>"}')
  })

  it.effect("writes one JSON object per line with trace ids, annotations and a redacted cause", () =>
    Effect.gen(function*() {
      const out: Array<string> = []
      const jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJwIn0.c2lnbmF0dXJl"
      yield* Effect.gen(function*() {
        yield* Effect.logError("token check failed", Cause.fail(new Error(`bad token ${jwt}`)))
        yield* Effect.logWarning("token check failed", new Error(`bad token ${jwt}`))
      }).pipe(
        Effect.annotateLogs({ requestId: "r-1" }),
        Effect.withSpan("probe"),
        Effect.provide(Logger.layer([makeJsonLogger((l) => void out.push(l))]))
      )
      assert.strictEqual(out.length, 2)
      for (const l of out) assert.isTrue(l.endsWith("}\n") && l.indexOf("\n") === l.length - 1, "one line each")
      const [withCause, withError] = out.map((l) => JSON.parse(l))
      assert.deepInclude(withCause, { level: "ERROR", message: "token check failed", requestId: "r-1" })
      assert.match(withCause.traceId, /^[0-9a-f]{32}$/)
      assert.match(withCause.spanId, /^[0-9a-f]{16}$/)
      assert.include(withCause.cause, "bad token <redacted-jwt>")
      assert.deepInclude(withError, { level: "WARN", message: "token check failed Error: bad token <redacted-jwt>" })
      assert.notInclude(out.join(""), jwt)
    }))

  it.effect("completion lines: Info when the access log is on, Debug otherwise; LOG_LEVEL decides what is written", () =>
    Effect.gen(function*() {
      const out: Array<string> = []
      const logger = Logger.layer([makeJsonLogger((l) => void out.push(l))])
      const at = (level: "Info" | "Debug") => Layer.mergeAll(logger, Layer.succeed(References.MinimumLogLevel, level))
      yield* logCompletion(true, "grpc call", { method: "A", outcome: "OK", durationMs: 1 }).pipe(Effect.provide(at("Info")))
      yield* logCompletion(false, "grpc call", { method: "B", outcome: "OK", durationMs: 1 }).pipe(Effect.provide(at("Info")))
      yield* logCompletion(false, "grpc call", { method: "C", outcome: "OK", durationMs: 1 }).pipe(Effect.provide(at("Debug")))
      assert.deepStrictEqual(out.map((l) => [JSON.parse(l).method, JSON.parse(l).level]), [["A", "INFO"], ["C", "DEBUG"]])

      const level = yield* Effect.gen(function*() {
        return yield* References.MinimumLogLevel
      }).pipe(
        Effect.provide(Logging.layer.pipe(Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({ LOG_LEVEL: "Warn" })))))
      )
      assert.strictEqual(level, "Warn")
    }))

  it.effect("LOG_LEVEL takes Effect's names in any case and the usual aliases; anything else fails naming the variable", () =>
    Effect.gen(function*() {
      const levelFor = (value: string) =>
        Effect.gen(function*() {
          return yield* References.MinimumLogLevel
        }).pipe(
          Effect.provide(Logging.layer.pipe(Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({ LOG_LEVEL: value })))))
        )
      for (const [value, expected] of [["warning", "Warn"], ["WARNING", "Warn"], ["debug", "Debug"], [" Error ", "Error"], ["off", "None"]] as const) {
        assert.strictEqual(yield* levelFor(value), expected, value)
      }
      const failure = yield* Effect.flip(levelFor("verbose"))
      assert.include(String(failure), "LOG_LEVEL must be one of")
    }))

  it.effect("batches the lines of one event-loop turn into one write, and flushes what is pending on demand", () =>
    Effect.gen(function*() {
      const chunks: Array<string> = []
      const writer = makeBatchedWriter((c) => void chunks.push(c))
      writer.write("a\n")
      writer.write("b\n")
      assert.deepStrictEqual(chunks, [])
      yield* Effect.promise(() => new Promise((resolve) => setImmediate(resolve)))
      assert.deepStrictEqual(chunks, ["a\nb\n"])
      writer.write("c\n")
      writer.flush()
      assert.deepStrictEqual(chunks, ["a\nb\n", "c\n"])
    }))
})

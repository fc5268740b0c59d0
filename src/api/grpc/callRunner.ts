import { randomUUID } from "node:crypto"
import * as grpc from "@grpc/grpc-js"
import { Cause, Clock, Context, Effect, Exit, type Fiber, Option, References, Tracer } from "effect"
import { logCompletion, millis } from "../../observability/RequestLog.ts"
import { exportsSpans } from "../../observability/Tracing.ts"
import type { WireRequest } from "./balanceHandlers.ts"
import { refuse } from "../../domain/errors.ts"
import type { Access, Authorize } from "./callAuth.ts"
import { parentSpanOf, readCallMetadata } from "./callMetadata.ts"
import { malformedReason } from "./strictDeserialize.ts"
import {
  type Answer,
  answerFailure,
  answerLabel,
  type CallFailure,
  type FailureMode,
  type GrpcStatus,
  INTERNAL,
  isServerError,
  ServerSideFailure,
  SHUTTING_DOWN
} from "./mapFailure.ts"

type Run = (effect: Effect.Effect<void>) => Fiber.Fiber<void>

/** Sends the response headers of a stream early: tells the client the subscription is live before any message. */
export type Ready = (headers: Readonly<Record<string, string>>) => Effect.Effect<void>

export interface CallRunnerOptions {
  /** Forks a call's fiber; fibers still running when the server's scope closes are interrupted. */
  readonly run: Run
  /** Same for long-lived streams, which are ended first on shutdown so that draining does not wait for them. */
  readonly runStream: Run
  /** Whether the call's credentials allow what its method needs; a refusal is a status (UNAUTHENTICATED, PERMISSION_DENIED). */
  readonly authorize: Authorize
  /** Told once per call when it is answered (a stream: when it ends): method, outcome label (OK or code), seconds taken. */
  readonly observe?: (method: string, outcome: string, seconds: number) => void
  /** The completion line of every call (method, outcome, durationMs) at Info when true, at Debug otherwise. */
  readonly accessLog?: boolean
}

/** The request as read, or a refusal when it was not a well-formed message (see strictDeserialize). */
const readable = <A>(request: unknown, handle: () => Effect.Effect<A, CallFailure>): Effect.Effect<A, CallFailure> =>
  Effect.suspend(() => {
    const problem = malformedReason(request)
    return problem === undefined
      ? handle()
      : Effect.fail(refuse("INVALID_ARGUMENT", `the request is not a well-formed protobuf message: ${problem}`))
  })

/** What a method's calls are named by (log annotation, span name), made once when the method is registered. */
interface MethodNames {
  readonly service: string
  readonly method: string
  /** The `rpc` log annotation: `<service>/<Method>`. */
  readonly rpc: string
  /** The call's span: `grpc.<Method>`. */
  readonly span: string
}
const methodNames = (service: string, method: string): MethodNames => ({ service, method, rpc: `${service}/${method}`, span: `grpc.${method}` })

const serviceError = (s: GrpcStatus): Partial<grpc.StatusObject> => ({ code: s.code, details: s.details })

const answerOfExit = (exit: Exit.Exit<Answer>): Answer =>
  Exit.isSuccess(exit)
    ? exit.value
    : { _tag: "Status", status: Cause.hasInterruptsOnly(exit.cause) ? SHUTTING_DOWN : INTERNAL }

const failureReason = (cause: Cause.Cause<CallFailure>): string => {
  const error = Cause.findErrorOption(cause)
  if (error._tag === "None") return "unknown"
  const e = error.value
  return "reason" in e ? String(e.reason) : e instanceof Error && e.message !== "" ? e.message : e._tag
}

/** Logs what the caller is not told (causes, defects); the caller only gets the mapped answer. */
const logFailure = (cause: Cause.Cause<CallFailure>, answer: Answer) => {
  if (answer._tag === "Reply") return Effect.logDebug("grpc call refused", answerLabel(answer))
  switch (answer.status.code) {
    case grpc.status.INTERNAL:
      return Effect.logError("grpc call failed", cause)
    case grpc.status.UNAVAILABLE:
    case grpc.status.ABORTED:
      // The caller gets a generic detail; the operator needs the store's own words (timeout, OOM, connection).
      return Effect.logWarning("grpc call failed", answer.status.details).pipe(Effect.annotateLogs({ reason: failureReason(cause) }))
    default:
      return Effect.logDebug("grpc call refused", answer.status.details)
  }
}

/**
 * Where inProcessSpan makes the span `Effect.withSpan` would: tracing enabled (References.TracerEnabled)
 * and no span around the server's fibers (GrpcServer starts untraced), so that the call's span is a
 * root or the caller's child. Anything else (a test running calls inside a span) takes `Effect.withSpan`.
 */
const inProcessSpanApplies = (fiber: Fiber.Fiber<unknown, unknown>): boolean =>
  fiber.getRef(References.TracerEnabled) && Context.getOrUndefined(fiber.context, Tracer.ParentSpan) === undefined

/**
 * The call's span when spans are not exported (Effect's default tracer): the same in-process
 * span `Effect.withSpan` would make (child of the caller's traceparent when it sent one; its ids
 * are drawn only when a log line reads them), installed with the call's log annotations in one
 * change of the fiber's context. `Effect.withSpan` plus `Effect.annotateLogs` (and
 * `Effect.withParentSpan`) changed it up to three times and back on every call, the largest
 * part of what the call runner cost per call (`npm run bench:call`).
 */
/** What `Effect.withSpan` gives a span without annotations, made once (a Context is immutable). */
const NO_SPAN_ANNOTATIONS = Context.empty()

const inProcessSpan = <A>(
  fiber: Fiber.Fiber<unknown, unknown>,
  name: string,
  parent: Tracer.ExternalSpan | undefined,
  annotations: Readonly<Record<string, string>>,
  effect: Effect.Effect<A>
): Effect.Effect<void> => {
  const clock = fiber.getRef(Clock.Clock)
  const span = Tracer.nativeTracer.span({
    name,
    parent: parent ? Option.some(parent) : Option.none(),
    annotations: NO_SPAN_ANNOTATIONS,
    links: [],
    startTime: clock.currentTimeNanosUnsafe(),
    kind: "server",
    root: false,
    sampled: parent?.sampled !== false
  })
  const traced = Effect.updateContext<A, never, never, never>(
    Effect.onExit(effect, (exit) => Effect.sync(() => span.end(clock.currentTimeNanosUnsafe(), exit))),
    (context: Context.Context<never>): Context.Context<never> =>
      Context.add(
        Context.add(context, Tracer.ParentSpan, span),
        References.CurrentLogAnnotations,
        { ...Context.get(context, References.CurrentLogAnnotations), ...annotations }
      ) as Context.Context<never> // ParentSpan is optional everywhere: nothing requires it
  )
  return Effect.asVoid(traced)
}

/**
 * Bridges grpc-js callbacks and Effect: per call it checks the credentials,
 * runs the handler as a fiber in a `grpc.<Method>` span (child of the caller's
 * traceparent, logs annotated with x-request-id / traceparent), maps every
 * failure through `answerFailure`, interrupts the fiber when the client
 * cancels, and never lets an exception escape into grpc-js.
 */
export const makeCallRunner = (options: CallRunnerOptions) => {
  /**
   * The call's `grpc.<Method>` span and log annotations around `answered` (whose Answer it gets).
   * With a tracing backend, a server error also marks the span as failed (a failure after the
   * answer, caught at once). With Effect's default tracer the span is kept (log lines carry its
   * ids, and the caller's trace id when it sent a traceparent) but nothing else is paid for it:
   * see inProcessSpan.
   */
  const instrument = (names: MethodNames, metadata: grpc.Metadata, answered: (exported: boolean) => Effect.Effect<Answer>) => {
    const { service, method } = names
    const meta = readCallMetadata(metadata)
    const parent = parentSpanOf(meta.traceparent)
    // Generated when the caller sent none, so every log line of a call can be found by one id.
    const requestId = meta.requestId ?? randomUUID()
    const annotations = meta.traceparent
      ? { rpc: names.rpc, requestId, traceparent: meta.traceparent }
      : { rpc: names.rpc, requestId }
    // Data-first calls here and below: the curried forms of Effect's duals (pipe) cost an arguments copy per call.
    return Effect.withFiber((fiber) => {
      const exported = exportsSpans(fiber)
      if (!exported && inProcessSpanApplies(fiber)) return inProcessSpan(fiber, names.span, parent, annotations, answered(false))
      const spanned = Effect.annotateLogs(
        exported
          ? answered(true).pipe(
            // Answered already; a server error (UNAVAILABLE, INTERNAL, ...) also marks the call's span as failed.
            Effect.flatMap((answer) => isServerError(answer) ? Effect.fail(new ServerSideFailure(answer.status)) : Effect.void),
            Effect.withSpan(names.span, {
              kind: "server",
              attributes: {
                "rpc.system": "grpc",
                "rpc.service": service,
                "rpc.method": method,
                "request.id": requestId,
                ...(meta.traceparent ? { "w3c.traceparent": meta.traceparent } : {})
              }
            }, { captureStackTrace: false }), // the frame would always be this runner
            Effect.catch(() => Effect.void)
          )
          : Effect.withSpan(Effect.asVoid(answered(false)), names.span, { kind: "server", captureStackTrace: false }),
        annotations
      )
      return parent ? Effect.withParentSpan(spanned, parent) : spanned
    })
  }

  /** Credentials first: a caller without them learns nothing about the request, not even that it was malformed. */
  const allowed = <A>(access: Access, method: string, metadata: grpc.Metadata, next: () => Effect.Effect<A, CallFailure>) => {
    if (access === "open") return next()
    const verdict = options.authorize(access, method, metadata)
    // Allowed outright (no token configured, or a matching one): no step to wait for.
    return verdict === Effect.void ? next() : Effect.andThen(verdict, next)
  }

  const secondsSince = (started: bigint) => Number(process.hrtime.bigint() - started) / 1e9
  /** One line per call on completion; runs inside the call's span, so it carries its trace and span ids. Fields built only when logged. */
  const completed = (message: string | ReadonlyArray<string>, method: string, outcome: string, seconds: () => number) =>
    logCompletion(options.accessLog === true, message, () => ({ method, outcome, durationMs: millis(seconds()) }))

  /** The handler's outcome as an Answer; the span gets it as `rpc.outcome` when spans are exported. */
  const answered = <E extends CallFailure>(effect: Effect.Effect<object, E>, mode: FailureMode, exported: boolean): Effect.Effect<Answer> => {
    const answer = Effect.matchCauseEffect(effect, {
      onSuccess: (response) => Effect.succeed<Answer>({ _tag: "Reply", response }),
      onFailure: (cause) => {
        const answer = answerFailure(cause, mode)
        return Effect.as(logFailure(cause, answer), answer)
      }
    })
    return exported ? Effect.tap(answer, (a) => Effect.annotateCurrentSpan("rpc.outcome", answerLabel(a))) : answer
  }

  const unary = (
    service: string,
    method: string,
    handle: (request: WireRequest) => Effect.Effect<object, CallFailure>,
    mode: FailureMode,
    access: (request: WireRequest) => Access
  ): grpc.handleUnaryCall<WireRequest, object> => {
    const names = methodNames(service, method)
    return (call, callback) => {
      const started = process.hrtime.bigint()
      let replied = false
      /** Answers once; returns the outcome label, or undefined when there was nothing to answer. */
      const reply = (answer: Answer): string | undefined => {
        if (replied) return undefined
        replied = true
        if (call.cancelled) return "CANCELLED"
        const outcome = answerLabel(answer)
        options.observe?.(method, outcome, secondsSince(started))
        if (answer._tag === "Reply") callback(null, answer.response)
        else callback(serviceError(answer.status))
        return outcome
      }
      const answerOnce = (exit: Exit.Exit<Answer>) => {
        const outcome = reply(answerOfExit(exit))
        // The duration is read only when the line is written (a filtered line costs no clock read).
        return outcome === undefined ? Effect.void : completed("grpc call", method, outcome, () => secondsSince(started))
      }
      const body = allowed(access(call.request), method, call.metadata, () => readable(call.request, () => handle(call.request)))
      const program = instrument(names, call.metadata, (exported) => Effect.onExit(answered(body, mode, exported), answerOnce))
      const fiber = options.run(program)
      call.on("cancelled", () => fiber.interruptUnsafe())
    }
  }

  const serverStream = (
    service: string,
    method: string,
    handle: (request: WireRequest, write: (message: object) => Effect.Effect<void>, ready: Ready) => Effect.Effect<void, CallFailure>,
    access: Access
  ): grpc.handleServerStreamingCall<WireRequest, object> => {
    const names = methodNames(service, method)
    return (call) => {
      const started = process.hrtime.bigint()
      const write = (message: object): Effect.Effect<void> =>
        Effect.callback<void>((resume) => {
          if (call.write(message)) return resume(Effect.void)
          const drained = () => resume(Effect.void)
          call.once("drain", drained)
          return Effect.sync(() => call.off("drain", drained))
        })
      const ready: Ready = (headers) =>
        Effect.sync(() => {
          const metadata = new grpc.Metadata()
          for (const [k, v] of Object.entries(headers)) metadata.set(k, v)
          call.sendMetadata(metadata)
        })
      const finish = (answer: Answer) => {
        if (call.cancelled || call.writableEnded) return
        if (answer._tag === "Status") call.emit("error", serviceError(answer.status))
        else call.end()
      }
      const body = Effect.as(allowed(access, method, call.metadata, () => readable(call.request, () => handle(call.request, write, ready))), {})
      const program = instrument(names, call.metadata, (exported) =>
        Effect.onExit(answered(body, "status", exported), (exit) => {
          const answer = answerOfExit(exit)
          return Effect.andThen(
            Effect.sync(() => finish(answer)),
            Effect.suspend(() => {
              const outcome = call.cancelled ? "CANCELLED" : answerLabel(answer)
              const seconds = secondsSince(started)
              // Counted like unary calls; its duration is the stream's lifetime.
              options.observe?.(method, outcome, seconds)
              return completed(["grpc stream closed", outcome], method, outcome, () => seconds)
            })
          )
        }))
      const fiber = options.runStream(program)
      call.on("cancelled", () => fiber.interruptUnsafe())
    }
  }

  return { unary, serverStream }
}

import type { Metadata } from "@grpc/grpc-js"
import { Tracer } from "effect"

export interface CallMetadata {
  readonly requestId: string | undefined
  readonly traceparent: string | undefined
}

/** Caller-supplied values end up in logs: bounded and printable only. */
const printable = (value: string | Buffer | undefined, max: number): string | undefined => {
  if (value === undefined) return undefined
  const s = (typeof value === "string" ? value : value.toString("utf8")).trim()
  return s.length > 0 && s.length <= max && /^[\x20-\x7e]+$/.test(s) ? s : undefined
}

export const readCallMetadata = (metadata: Metadata): CallMetadata => ({
  requestId: printable(metadata.get("x-request-id")[0], 128),
  traceparent: printable(metadata.get("traceparent")[0], 128)
})

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/

/** The caller's span from a W3C traceparent, so `grpc.<Method>` becomes its child; undefined when malformed. */
export const parentSpanOf = (traceparent: string | undefined): Tracer.ExternalSpan | undefined => {
  const m = traceparent === undefined ? null : TRACEPARENT.exec(traceparent)
  if (!m || m[1] === "ff" || /^0+$/.test(m[2]!) || /^0+$/.test(m[3]!)) return undefined
  return Tracer.externalSpan({ traceId: m[2]!, spanId: m[3]!, sampled: (parseInt(m[4]!, 16) & 1) === 1 })
}

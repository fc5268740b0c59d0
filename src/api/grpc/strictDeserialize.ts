import type * as grpc from "@grpc/grpc-js"

/**
 * Request messages that are not well-formed protobuf are refused instead of
 * half-read. protobufjs (under proto-loader) clamps a length-delimited field
 * that claims more bytes than the message has, so a truncated request would
 * run with a shortened id or key; and a message it cannot read at all makes
 * grpc-js answer INTERNAL, as if the service were broken. Each method's
 * deserializer is wrapped: a malformed message becomes a marker object the
 * call runner refuses with INVALID_ARGUMENT (in-band where the method answers
 * refusals in-band).
 */

const MALFORMED = Symbol.for("balance-service/malformed-request")

export interface MalformedRequest {
  readonly [MALFORMED]: string
}

export const malformedReason = (request: unknown): string | undefined =>
  typeof request === "object" && request !== null && MALFORMED in request
    ? (request as MalformedRequest)[MALFORMED]
    : undefined

/** Reads a varint at `pos`; the position after it, or -1 when the buffer ends inside it or it is over 10 bytes. */
const skipVarint = (buf: Uint8Array, pos: number): { readonly end: number; readonly value: number } => {
  let value = 0
  let scale = 1
  for (let i = 0; i < 10; i++) {
    if (pos + i >= buf.length) return { end: -1, value: 0 }
    const byte = buf[pos + i]!
    value += (byte & 0x7f) * scale
    scale *= 128
    if ((byte & 0x80) === 0) return { end: pos + i + 1, value }
  }
  return { end: -1, value: 0 }
}

/**
 * Walks the top-level fields of a protobuf message: every tag readable, every
 * field complete within the message. Undefined when well-formed, else why not.
 */
export const wireFormatProblem = (buf: Uint8Array): string | undefined => {
  let pos = 0
  while (pos < buf.length) {
    const tag = skipVarint(buf, pos)
    if (tag.end === -1) return `truncated field tag at byte ${pos}`
    const field = Math.floor(tag.value / 8)
    const wireType = tag.value % 8
    if (field === 0) return `field number 0 at byte ${pos}`
    pos = tag.end
    switch (wireType) {
      case 0: {
        const v = skipVarint(buf, pos)
        if (v.end === -1) return `field ${field}: truncated varint`
        pos = v.end
        break
      }
      case 1:
        pos += 8
        break
      case 2: {
        const length = skipVarint(buf, pos)
        if (length.end === -1) return `field ${field}: truncated length`
        pos = length.end + length.value
        break
      }
      case 5:
        pos += 4
        break
      default:
        return `field ${field}: unsupported wire type ${wireType}`
    }
    if (pos > buf.length) return `field ${field} runs past the end of the message`
  }
  return undefined
}

const strictly = (deserialize: grpc.deserialize<unknown>): grpc.deserialize<unknown> => (buf) => {
  const problem = wireFormatProblem(buf)
  if (problem !== undefined) return { [MALFORMED]: problem } satisfies MalformedRequest
  try {
    return deserialize(buf)
  } catch (e) {
    return { [MALFORMED]: e instanceof Error ? e.message : String(e) } satisfies MalformedRequest
  }
}

/** The service definition with every request deserializer checking the wire format first. */
export const withStrictRequests = (definition: grpc.ServiceDefinition): grpc.ServiceDefinition =>
  Object.fromEntries(
    Object.entries(definition).map(([method, attrs]) => [method, { ...attrs, requestDeserialize: strictly(attrs.requestDeserialize) }])
  ) as grpc.ServiceDefinition

/**
 * Generates client/src/generated/balanceService.ts from proto/balance.proto (and the
 * grpc.health.v1 proto) through proto-loader's reflection, plus the service's refusal
 * codes from src/domain/errors.ts. Nothing in that file is written by hand:
 *
 *   npm run client:generate          (writes the file)
 *   test/client/generated.test.ts    (fails when the committed file is stale)
 *
 * The file carries the contract three ways: TypeScript types of every message as
 * the wire client sees it (snake_case, int64 as decimal strings), the method table,
 * and the serialized FileDescriptorSet the runtime loads, so the published package
 * needs no .proto file on disk.
 */
import { writeFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import * as protoLoader from "@grpc/proto-loader"
import { RefusalCode } from "../../src/domain/errors.ts"

const ROOT = fileURLToPath(new URL("../../", import.meta.url))
export const GENERATED_FILE = fileURLToPath(new URL("../src/generated/balanceService.ts", import.meta.url))
const PROTO_FILES = ["balance.proto", "grpc/health/v1/health.proto"]

interface FieldDescriptor {
  readonly name: string
  readonly number: number
  readonly label: string
  readonly type: string
  readonly typeName: string
}
interface MessageDescriptor {
  readonly name: string
  readonly field: ReadonlyArray<FieldDescriptor>
  readonly nestedType: ReadonlyArray<MessageDescriptor & { readonly options: { readonly mapEntry?: boolean } | null }>
  readonly enumType: ReadonlyArray<{ readonly name: string; readonly value: ReadonlyArray<{ readonly name: string }> }>
  readonly oneofDecl: ReadonlyArray<{ readonly name: string }>
}
interface MethodDefinition {
  readonly path: string
  readonly requestStream: boolean
  readonly responseStream: boolean
  readonly requestType: { readonly type: MessageDescriptor; readonly fileDescriptorProtos: ReadonlyArray<Buffer> }
  readonly responseType: { readonly type: MessageDescriptor }
}

const SCALARS: Record<string, { readonly output: string; readonly input: string }> = {
  TYPE_STRING: { output: "string", input: "string" },
  TYPE_BOOL: { output: "boolean", input: "boolean" },
  TYPE_INT32: { output: "number", input: "number" },
  TYPE_UINT32: { output: "number", input: "number" },
  TYPE_SINT32: { output: "number", input: "number" },
  TYPE_DOUBLE: { output: "number", input: "number" },
  TYPE_FLOAT: { output: "number", input: "number" },
  // longs: String on the way out; protobufjs takes a decimal string or a safe number on the way in.
  TYPE_INT64: { output: "string", input: "string | number" },
  TYPE_UINT64: { output: "string", input: "string | number" },
  TYPE_SINT64: { output: "string", input: "string | number" },
  TYPE_BYTES: { output: "Buffer", input: "Buffer | Uint8Array" }
}

/** `balance.PotWinner` -> `PotWinner`, `grpc.health.v1.HealthCheckResponse.ServingStatus` -> `HealthCheckResponse_ServingStatus`. */
const typeNameOf = (qualified: string) => {
  const parts = qualified.split(".")
  const firstUpper = parts.findIndex((p) => /^[A-Z]/.test(p))
  return parts.slice(firstUpper).join("_")
}

const isOptional = (message: MessageDescriptor, field: FieldDescriptor) =>
  message.oneofDecl.some((o) => o.name === `_${field.name}`)

/** Renders one message as its output interface (what a response carries) and its input type (what a request accepts). */
const renderMessage = (qualified: string, message: MessageDescriptor, pkg: string, enums: Set<string>): string => {
  const name = typeNameOf(qualified)
  const out: Array<string> = []
  const inp: Array<string> = []
  for (const f of message.field) {
    const repeated = f.label === "LABEL_REPEATED"
    const map = f.type === "TYPE_MESSAGE" ? message.nestedType.find((n) => n.name === f.typeName && n.options?.mapEntry) : undefined
    let o: string
    let i: string
    if (map !== undefined) {
      const value = map.field.find((x) => x.name === "value")!
      const v = SCALARS[value.type]
      if (v === undefined) throw new Error(`${qualified}.${f.name}: map value type ${value.type} not supported`)
      out.push(`  readonly ${f.name}: Readonly<Record<string, ${v.output}>>`)
      inp.push(`  readonly ${f.name}?: Readonly<Record<string, ${v.input}>>`)
      continue
    } else if (f.type === "TYPE_MESSAGE" || f.type === "TYPE_ENUM") {
      const nested = message.enumType.some((e) => e.name === f.typeName) || message.nestedType.some((n) => n.name === f.typeName)
      const ref = f.typeName.includes(".") ? f.typeName : nested ? `${qualified}.${f.typeName}` : `${pkg}.${f.typeName}`
      const t = typeNameOf(ref)
      o = t
      i = f.type === "TYPE_ENUM" || enums.has(t) ? t : `${t}Input`
    } else {
      const s = SCALARS[f.type]
      if (s === undefined) throw new Error(`${qualified}.${f.name}: type ${f.type} not supported`)
      o = s.output
      i = s.input
    }
    if (repeated) {
      out.push(`  readonly ${f.name}: ReadonlyArray<${o}>`)
      inp.push(`  readonly ${f.name}?: ReadonlyArray<${i}>`)
    } else if (isOptional(message, f)) {
      out.push(`  readonly ${f.name}?: ${o}`)
      inp.push(`  readonly ${f.name}?: ${i}`)
    } else if (f.type === "TYPE_MESSAGE") {
      out.push(`  readonly ${f.name}: ${o} | null`)
      inp.push(`  readonly ${f.name}?: ${i} | null`)
    } else {
      out.push(`  readonly ${f.name}: ${o}`)
      inp.push(`  readonly ${f.name}?: ${i}`)
    }
  }
  return [
    `/** ${qualified} as received (defaults filled in). */`,
    `export interface ${name} {`,
    ...out,
    "}",
    `/** ${qualified} as sent (every field may be left out: proto3 defaults). */`,
    `export interface ${name}Input {`,
    ...inp,
    "}"
  ].join("\n")
}

/** A FileDescriptorSet is `repeated FileDescriptorProto file = 1`: tag 0x0a, varint length, bytes, per file. */
const collectFiles = (definition: protoLoader.PackageDefinition): Array<string> => {
  const seen = new Set<string>()
  for (const value of Object.values(definition)) {
    const protos = (value as { fileDescriptorProtos?: ReadonlyArray<Buffer> }).fileDescriptorProtos ?? []
    for (const b of protos) seen.add(b.toString("base64"))
  }
  return [...seen].sort()
}

/** The text of the generated file; deterministic, so the staleness test can compare it byte for byte. */
export const render = (): string => {
  const definition = protoLoader.loadSync(PROTO_FILES, {
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
    includeDirs: [`${ROOT}proto`]
  })
  const sections: Array<string> = []
  const enums = new Set<string>()
  const methods: Array<{ service: string; name: string; def: MethodDefinition }> = []
  // Enums first, so message fields can tell an enum (same type both ways) from a message (Input variant).
  for (const [qualified, value] of Object.entries(definition)) {
    if ("format" in value && value.format === "Protocol Buffer 3 DescriptorProto") {
      const message = (value as unknown as { type: MessageDescriptor }).type
      for (const e of message.enumType) {
        const t = typeNameOf(`${qualified}.${e.name}`)
        enums.add(t)
        sections.push(`export type ${t} = ${e.value.map((v) => JSON.stringify(v.name)).join(" | ")}`)
      }
    }
  }
  for (const [qualified, value] of Object.entries(definition)) {
    if ("format" in value && value.format === "Protocol Buffer 3 DescriptorProto") {
      const pkg = qualified.slice(0, qualified.lastIndexOf("."))
      sections.push(renderMessage(qualified, (value as unknown as { type: MessageDescriptor }).type, pkg, enums))
    } else if (!("format" in value)) {
      for (const [name, def] of Object.entries(value as Record<string, MethodDefinition>)) {
        methods.push({ service: qualified, name, def })
      }
    }
  }
  const table = (service: string, constName: string, typeName: string) => {
    const own = methods.filter((m) => m.service === service)
    const pkg = service.slice(0, service.lastIndexOf("."))
    const req = (m: MethodDefinition) => typeNameOf(`${pkg}.${m.requestType.type.name}`)
    const res = (m: MethodDefinition) => typeNameOf(`${pkg}.${m.responseType.type.name}`)
    return [
      `/** The rpcs of ${service}: path and streaming shape. */`,
      `export const ${constName} = {`,
      ...own.map((m) =>
        `  ${m.name}: { path: ${JSON.stringify(m.def.path)}, requestStream: ${m.def.requestStream}, responseStream: ${m.def.responseStream} },`
      ),
      "} as const",
      `/** Request and response types of each rpc of ${service}. */`,
      `export interface ${typeName} {`,
      ...own.map((m) => `  readonly ${m.name}: { readonly request: ${req(m.def)}Input; readonly response: ${res(m.def)} }`),
      "}"
    ].join("\n")
  }
  const codes = RefusalCode.literals
  return [
    "// GENERATED by client/scripts/generate.ts from proto/balance.proto, proto/grpc/health/v1/health.proto",
    "// and src/domain/errors.ts. Do not edit: run `npm run client:generate`.",
    "/* eslint-disable */",
    "",
    ...sections.flatMap((s) => [s, ""]),
    table("balance.BalanceService", "BALANCE_SERVICE_METHODS", "BalanceServiceMethods"),
    "",
    table("grpc.health.v1.Health", "HEALTH_SERVICE_METHODS", "HealthServiceMethods"),
    "",
    "/** Every in-band refusal code the service answers (`ok=false, error=CODE`), from src/domain/errors.ts. */",
    "export const REFUSAL_CODES = [",
    ...codes.map((c) => `  ${JSON.stringify(c)},`),
    "] as const",
    "export type RefusalCode = (typeof REFUSAL_CODES)[number]",
    "",
    "/** The serialized FileDescriptorProtos of both protos (base64): what the runtime loads, no .proto file needed. */",
    "export const FILE_DESCRIPTORS_BASE64: ReadonlyArray<string> = [",
    ...collectFiles(definition).map((b) => `  ${JSON.stringify(b)},`),
    "]",
    ""
  ].join("\n")
}

if (import.meta.url === `file://${process.argv[1]}`) {
  writeFileSync(GENERATED_FILE, render())
  console.log(`wrote ${GENERATED_FILE}`)
}

/**
 * `.env.example` is usable as it stands: `cp .env.example .env` then
 * `npm run start:env` loads it with Node's own parser (`node --env-file`), and
 * what it sets is a valid configuration naming only variables the service reads.
 */
import { spawnSync } from "node:child_process"
import { readdirSync, readFileSync, statSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { nodeBinary } from "../chaos/support/serviceProcess.ts"

const root = join(import.meta.dirname, "..", "..")
const read = (path: string) => readFileSync(join(root, path), "utf8")
const example = read(".env.example")

/** Every file under src/, concatenated: where a variable the service reads is named. */
const sources = (function collect(dir: string): string {
  return readdirSync(join(root, dir)).map((f) => {
    const path = `${dir}/${f}`
    return statSync(join(root, path)).isDirectory() ? collect(path) : f.endsWith(".ts") ? read(path) : ""
  }).join("\n")
})("src")

/** Runs `code` (ESM) in Node 24 with .env.example loaded the way start:env loads .env. */
const withExample = (code: string) =>
  spawnSync(nodeBinary(), ["--env-file=.env.example", "--input-type=module", "-e", code], {
    cwd: root,
    encoding: "utf8",
    env: { PATH: process.env["PATH"] ?? "/usr/bin:/bin" }
  })

describe(".env.example", () => {
  it("is loaded by `npm run start:env` through node --env-file (build first, then the compiled service)", () => {
    const scripts = (JSON.parse(read("package.json")) as { scripts: Record<string, string> }).scripts
    expect(scripts["start:env"]).toMatch(/^npm run build && exec node --env-file=\.env dist\/main\.js$/)
    expect(read("README.md")).toContain("npm run start:env")
    expect(read(".gitignore").split("\n")).toContain(".env")
  })

  it("names only variables the service reads, set or commented out", () => {
    const named = [...example.matchAll(/^#? ?([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]!)
    expect(named.length).toBeGreaterThan(40)
    for (const name of named) expect(sources, name).toContain(`"${name}"`)
  })

  it("as Node parses it, sets exactly its uncommented lines, and they make a valid configuration", () => {
    const set = [...example.matchAll(/^([A-Z][A-Z0-9_]+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!] as const)
    const r = withExample(`
      import { Effect } from "effect"
      import { AppConfig } from "./src/config.ts"
      const values = await Effect.runPromise(Effect.all(AppConfig))
      console.log(JSON.stringify({ env: process.env, values }))
    `)
    expect(r.stderr).toBe("")
    expect(r.status).toBe(0)
    const { env, values } = JSON.parse(r.stdout) as { env: Record<string, string>; values: Record<string, unknown> }
    for (const [name, value] of set) expect(env[name], name).toBe(value)
    expect(values["httpPort"]).toBe(Number(env["HTTP_PORT"]))
    expect(values["logLevel"]).toBe("Info")
  })
})

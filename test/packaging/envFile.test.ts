/**
 * `.env.example` is usable as it stands: `cp .env.example .env` then
 * `npm run start:env` loads it with Node's own parser (`node --env-file`), and
 * what it sets is a valid configuration naming only variables the service reads.
 */
import { spawnSync } from "node:child_process"
import { readdirSync, readFileSync, statSync } from "node:fs"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
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
    assert.match(scripts["start:env"] ?? "", /^npm run build && exec node --env-file=\.env dist\/main\.js$/)
    assert.include(read("README.md"), "npm run start:env")
    assert.include(read(".gitignore").split("\n"), ".env")
  })

  it("names only variables the service reads, set or commented out", () => {
    const named = [...example.matchAll(/^#? ?([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]!)
    assert.isAbove(named.length, 40)
    for (const name of named) assert.include(sources, `"${name}"`, name)
  })

  it("as Node parses it, sets exactly its uncommented lines, and they make a valid configuration", () => {
    const set = [...example.matchAll(/^([A-Z][A-Z0-9_]+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!] as const)
    const r = withExample(`
      import { Effect } from "effect"
      import { AppConfig } from "./src/config.ts"
      const values = await Effect.runPromise(Effect.all(AppConfig))
      console.log(JSON.stringify({ env: process.env, values }))
    `)
    assert.strictEqual(r.stderr, "")
    assert.strictEqual(r.status, 0)
    const { env, values } = JSON.parse(r.stdout) as { env: Record<string, string>; values: Record<string, unknown> }
    for (const [name, value] of set) assert.strictEqual(env[name], value, name)
    assert.strictEqual(values["httpPort"], Number(env["HTTP_PORT"]))
    assert.strictEqual(values["logLevel"], "Info")
  })
})

/**
 * No Docker engine runs on our machines, so the image recipe is checked by
 * reading it: the Dockerfile is parsed into stages and instructions and the
 * essentials are asserted (pinned Node 24 base, non-root user, health check,
 * ports, no baked-in secret, production-only install, what the build needs).
 */
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"

const root = join(import.meta.dirname, "..", "..")
const read = (path: string) => readFileSync(join(root, path), "utf8")

interface Instruction {
  readonly keyword: string
  readonly args: string
  readonly line: number
}
interface Stage {
  readonly from: string
  readonly name: string | undefined
  readonly instructions: Array<Instruction>
}

/** Dockerfile -> stages: joins `\` continuations, drops comments and blank lines. */
const parseDockerfile = (text: string): Array<Stage> => {
  const stages: Array<Stage> = []
  const lines = text.split("\n")
  let pending = ""
  let startLine = 0
  const flush = (raw: string, line: number) => {
    const m = /^\s*([A-Za-z]+)\s*(.*)$/s.exec(raw)
    if (!m) return
    const keyword = m[1]!.toUpperCase()
    const args = m[2]!.replace(/\s+/g, " ").trim()
    if (keyword === "FROM") {
      const [image, as, name] = args.split(" ").filter((s) => !s.startsWith("--"))
      stages.push({ from: image!, name: as?.toUpperCase() === "AS" ? name : undefined, instructions: [] })
      return
    }
    if (stages.length === 0) {
      if (keyword === "ARG") return // ARGs before the first FROM
      throw new Error(`line ${line}: ${keyword} before FROM`)
    }
    stages.at(-1)!.instructions.push({ keyword, args, line })
  }
  lines.forEach((text, i) => {
    if (pending === "" && /^\s*(#|$)/.test(text)) return
    if (pending !== "" && /^\s*#/.test(text)) return // comment lines inside a continuation
    if (pending === "") startLine = i + 1
    if (/\\\s*$/.test(text)) {
      pending += text.replace(/\\\s*$/, " ")
      return
    }
    flush(pending + text, startLine)
    pending = ""
  })
  if (pending !== "") flush(pending, startLine)
  return stages
}

/** `["a", "b"]` (exec form) -> array; shell form -> undefined. */
const execForm = (args: string): Array<string> | undefined => {
  if (!args.startsWith("[")) return undefined
  return JSON.parse(args) as Array<string>
}

/** Key/value pairs of `ENV a=1 b=2`, `ENV a 1`, `ARG a=1`, `ARG a`. */
const assignments = (instruction: Instruction): Array<[string, string]> => {
  const { keyword, args } = instruction
  if (keyword === "ENV" && !/^\S+=/.test(args)) {
    const [name, ...rest] = args.split(" ")
    return [[name!, rest.join(" ")]]
  }
  const pairs: Array<[string, string]> = []
  for (const m of args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)(?:=("(?:[^"\\]|\\.)*"|'[^']*'|\S*))?/g)) {
    pairs.push([m[1]!, (m[2] ?? "").replace(/^["']|["']$/g, "")])
  }
  return pairs
}

const SECRET_NAME = /pass(word)?|secret|token|api_?key|private|credential|(^|_)key$|hmac/i

const dockerfile = parseDockerfile(read("Dockerfile"))
const runtime = dockerfile.at(-1)!
const build = dockerfile.find((s) => s.instructions.some((i) => i.keyword === "RUN" && /npm run build/.test(i.args)))
const all = (stage: Stage, keyword: string) => stage.instructions.filter((i) => i.keyword === keyword)
const pkg = JSON.parse(read("package.json")) as {
  devDependencies: Record<string, string>
  scripts: Record<string, string>
  bin?: Record<string, string>
}

describe("Dockerfile", () => {
  it("is multi-stage: a build stage runs npm ci and npm run build, the runtime stage does not build", () => {
    expect(dockerfile.length).toBeGreaterThanOrEqual(2)
    expect(build).toBeDefined()
    expect(build).not.toBe(runtime)
    expect(all(build!, "RUN").some((i) => /\bnpm ci\b/.test(i.args))).toBe(true)
    expect(all(runtime, "RUN").some((i) => /npm run build|\btsc\b/.test(i.args))).toBe(false)
    expect(all(runtime, "COPY").some((i) => /--from=\S+ .*\bdist\b/.test(i.args))).toBe(true)
  })

  it("pins every base image; the runtime is a slim Node 24 image with an exact version, the same as the node devDependency", () => {
    for (const stage of dockerfile) {
      expect(stage.from, stage.from).toMatch(/^[^:@\s]+(:[^:@\s]+)(@sha256:[0-9a-f]{64})?$/)
      expect(stage.from).not.toMatch(/:latest\b/)
    }
    const m = /^node:(24\.\d+\.\d+)-[a-z]+-slim(@sha256:[0-9a-f]{64})?$/.exec(runtime.from)
    expect(m, `runtime base ${runtime.from}`).not.toBeNull()
    expect(m![1]).toBe(pkg.devDependencies["node"])
  })

  it("runs as a non-root user, set before CMD", () => {
    const users = all(runtime, "USER")
    expect(users.length).toBeGreaterThan(0)
    const last = users.at(-1)!
    const user = last.args.split(":")[0]!
    expect(["root", "0"]).not.toContain(user)
    const cmd = all(runtime, "CMD").at(-1)!
    expect(last.line).toBeLessThan(cmd.line)
  })

  it("starts node dist/main.js under an init that forwards SIGTERM", () => {
    const cmd = execForm(all(runtime, "CMD").at(-1)!.args)
    expect(cmd).toEqual(["node", "dist/main.js"])
    const entrypoint = execForm(all(runtime, "ENTRYPOINT").at(-1)?.args ?? "[]")
    expect(entrypoint?.join(" ")).toMatch(/tini/)
    expect(all(runtime, "RUN").some((i) => /apt-get install .*\btini\b/.test(i.args))).toBe(true)
  })

  it("has a HEALTHCHECK on /api/health without curl", () => {
    const hc = all(runtime, "HEALTHCHECK")
    expect(hc).toHaveLength(1)
    expect(hc[0]!.args).toMatch(/\/api\/health/)
    expect(hc[0]!.args).toMatch(/3002/)
    expect(hc[0]!.args).not.toMatch(/\bcurl\b|\bwget\b/)
    expect(hc[0]!.args).toMatch(/CMD \["node", "-e"/)
  })

  it("exposes 3002, 50051 and 9102", () => {
    const ports = all(runtime, "EXPOSE").flatMap((i) => i.args.split(" ")).map((p) => p.replace(/\/tcp$/, ""))
    expect(ports).toEqual(expect.arrayContaining(["3002", "50051", "9102"]))
  })

  it("bakes in no secret: no ENV or ARG with a secret-looking name carries a value", () => {
    for (const stage of dockerfile) {
      for (const i of [...all(stage, "ENV"), ...all(stage, "ARG")]) {
        for (const [name, value] of assignments(i)) {
          if (SECRET_NAME.test(name)) expect(value, `${i.keyword} ${name} on line ${i.line}`).toBe("")
        }
      }
      for (const i of [...all(stage, "COPY"), ...all(stage, "ADD")]) expect(i.args).not.toMatch(/\.env\b|\.pem\b|\.key\b/)
    }
    // and REDIS_URL is left to the environment (the image runs no redis-server of its own)
    const env = dockerfile.flatMap((s) => all(s, "ENV").flatMap(assignments))
    expect(env.map(([k]) => k)).not.toContain("REDIS_URL")
  })

  it("installs production dependencies only in the runtime stage", () => {
    const installs = all(runtime, "RUN").filter((i) => /\bnpm (ci|install|i)\b/.test(i.args))
    expect(installs.length).toBeGreaterThan(0)
    for (const i of installs) {
      expect(i.args).toMatch(/\bnpm ci\b/)
      expect(i.args).toMatch(/--omit=dev|--production\b/)
    }
    // no node_modules copied over from the build stage (it holds the dev dependencies)
    expect(all(runtime, "COPY").some((i) => /node_modules/.test(i.args))).toBe(false)
  })

  it("ships what the service reads at run time: package.json (ESM), dist/, proto/", () => {
    const copies = all(runtime, "COPY").map((i) => i.args)
    expect(copies.some((a) => /\bpackage\.json\b/.test(a))).toBe(true)
    expect(copies.some((a) => /^proto\b|\sproto\b/.test(a))).toBe(true)
    // proto/ is loaded from ../../../proto relative to dist/api/grpc: proto and dist are siblings
    const workdir = all(runtime, "WORKDIR").at(-1)!.args
    expect(copies.some((a) => /\.\/dist$/.test(a))).toBe(true)
    expect(copies.some((a) => /\.\/proto$/.test(a))).toBe(true)
    expect(workdir).toBe("/app")
  })

  it("ships every bin of package.json (the balance-admin CLI) and puts it on PATH", () => {
    const copied = all(runtime, "COPY").filter((i) => !i.args.startsWith("--from")).flatMap((i) => i.args.split(" ").slice(0, -1))
    const runs = all(runtime, "RUN").map((i) => i.args).join("\n")
    const bins = Object.entries(pkg.bin ?? {})
    expect(bins.length).toBeGreaterThan(0)
    for (const [name, path] of bins) {
      const file = path.replace(/^\.\//, "")
      expect(copied.some((c) => c === file || file.startsWith(`${c.replace(/\/$/, "")}/`)), `${path} is not copied into the runtime stage`).toBe(true)
      expect(runs, `${name} is not linked onto PATH`).toContain(`ln -s /app/${file} /usr/local/bin/${name}`)
      // It loads the compiled CLI from dist/, which the runtime stage copies from the build stage.
      expect(read(file)).toMatch(/\.\.\/dist\/cli\/main\.js/)
    }
  })

  it("copies into the build stage every file that npm run build reads", () => {
    const copied = all(build!, "COPY").flatMap((i) => i.args.split(" ").slice(0, -1)).filter((s) => !s.startsWith("--"))
    const needs = ["package.json", "package-lock.json", "tsconfig.json", "tsconfig.build.json", "src"]
    for (const path of (pkg.scripts["build"] ?? "").match(/\b(scripts\/[\w./-]+)/g) ?? []) needs.push(path)
    for (const need of needs) {
      const covered = copied.some((c) => c === need || need.startsWith(`${c.replace(/\/$/, "")}/`))
      expect(covered, `${need} is not copied into the build stage`).toBe(true)
    }
  })
})

describe(".dockerignore", () => {
  const entries = read(".dockerignore")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"))

  it("keeps local state, secrets and host builds out of the context", () => {
    expect(entries).toEqual(expect.arrayContaining([".git", "node_modules", "dist", ".data", ".env", "test"]))
  })

  it("does not exclude what the build needs", () => {
    for (const needed of ["src", "proto", "scripts", "bin", "package.json", "package-lock.json", "tsconfig.json", "tsconfig.build.json", "*", "**"]) {
      expect(entries, needed).not.toContain(needed)
    }
  })
})

describe("parseDockerfile", () => {
  it("joins continuations and skips comments inside them", () => {
    const stages = parseDockerfile("FROM a:1 AS b\nRUN x \\\n  # note\n  && y\nCMD [\"z\"]\n")
    expect(stages).toEqual([
      {
        from: "a:1",
        name: "b",
        instructions: [{ keyword: "RUN", args: "x && y", line: 2 }, { keyword: "CMD", args: '["z"]', line: 5 }]
      }
    ])
  })

  it("sees a secret default in ARG and ENV", () => {
    const [stage] = parseDockerfile("FROM a:1\nARG DB_PASSWORD=hunter2\nENV API_TOKEN abc\nENV NODE_ENV=production\n")
    const found = stage!.instructions.flatMap(assignments).filter(([k, v]) => SECRET_NAME.test(k) && v !== "")
    expect(found.map(([k]) => k)).toEqual(["DB_PASSWORD", "API_TOKEN"])
  })
})

/**
 * No Docker engine runs on our machines, so the image recipe is checked by
 * reading it: the Dockerfile is parsed into stages and instructions and the
 * essentials are asserted (pinned Node 24 base, non-root user, health check,
 * ports, no baked-in secret, production-only install, what the build needs).
 */
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"

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
    assert.isAtLeast(dockerfile.length, 2)
    assert.isDefined(build)
    assert.notStrictEqual(build, runtime)
    assert.strictEqual(all(build!, "RUN").some((i) => /\bnpm ci\b/.test(i.args)), true)
    assert.strictEqual(all(runtime, "RUN").some((i) => /npm run build|\btsc\b/.test(i.args)), false)
    assert.strictEqual(all(runtime, "COPY").some((i) => /--from=\S+ .*\bdist\b/.test(i.args)), true)
  })

  it("pins every base image; the runtime is a slim Node 24 image with an exact version, the same as the node devDependency", () => {
    for (const stage of dockerfile) {
      assert.match(stage.from, /^[^:@\s]+(:[^:@\s]+)(@sha256:[0-9a-f]{64})?$/, stage.from)
      assert.notMatch(stage.from, /:latest\b/)
    }
    const m = /^node:(24\.\d+\.\d+)-[a-z]+-slim(@sha256:[0-9a-f]{64})?$/.exec(runtime.from)
    assert.isNotNull(m, `runtime base ${runtime.from}`)
    assert.strictEqual(m![1], pkg.devDependencies["node"])
  })

  it("runs as a non-root user, set before CMD", () => {
    const users = all(runtime, "USER")
    assert.isAbove(users.length, 0)
    const last = users.at(-1)!
    const user = last.args.split(":")[0]!
    assert.notInclude(["root", "0"], user)
    const cmd = all(runtime, "CMD").at(-1)!
    assert.isBelow(last.line, cmd.line)
  })

  it("starts node dist/main.js under an init that forwards SIGTERM", () => {
    const cmd = execForm(all(runtime, "CMD").at(-1)!.args)
    assert.deepStrictEqual(cmd, ["node", "dist/main.js"])
    const entrypoint = execForm(all(runtime, "ENTRYPOINT").at(-1)?.args ?? "[]")
    assert.match(entrypoint?.join(" ") ?? "", /tini/)
    assert.strictEqual(all(runtime, "RUN").some((i) => /apt-get install .*\btini\b/.test(i.args)), true)
  })

  it("has a HEALTHCHECK on /api/health without curl", () => {
    const hc = all(runtime, "HEALTHCHECK")
    assert.lengthOf(hc, 1)
    assert.match(hc[0]!.args, /\/api\/health/)
    assert.match(hc[0]!.args, /3002/)
    assert.notMatch(hc[0]!.args, /\bcurl\b|\bwget\b/)
    assert.match(hc[0]!.args, /CMD \["node", "-e"/)
  })

  it("exposes 3002, 50051 and 9102", () => {
    const ports = all(runtime, "EXPOSE").flatMap((i) => i.args.split(" ")).map((p) => p.replace(/\/tcp$/, ""))
    assert.includeMembers(ports, ["3002", "50051", "9102"])
  })

  it("bakes in no secret: no ENV or ARG with a secret-looking name carries a value", () => {
    for (const stage of dockerfile) {
      for (const i of [...all(stage, "ENV"), ...all(stage, "ARG")]) {
        for (const [name, value] of assignments(i)) {
          if (SECRET_NAME.test(name)) assert.strictEqual(value, "", `${i.keyword} ${name} on line ${i.line}`)
        }
      }
      for (const i of [...all(stage, "COPY"), ...all(stage, "ADD")]) assert.notMatch(i.args, /\.env\b|\.pem\b|\.key\b/)
    }
    // and REDIS_URL is left to the environment (the image runs no redis-server of its own)
    const env = dockerfile.flatMap((s) => all(s, "ENV").flatMap(assignments))
    assert.notInclude(env.map(([k]) => k), "REDIS_URL")
  })

  it("installs production dependencies only in the runtime stage", () => {
    const installs = all(runtime, "RUN").filter((i) => /\bnpm (ci|install|i)\b/.test(i.args))
    assert.isAbove(installs.length, 0)
    for (const i of installs) {
      assert.match(i.args, /\bnpm ci\b/)
      assert.match(i.args, /--omit=dev|--production\b/)
    }
    // no node_modules copied over from the build stage (it holds the dev dependencies)
    assert.strictEqual(all(runtime, "COPY").some((i) => /node_modules/.test(i.args)), false)
  })

  it("ships what the service reads at run time: package.json (ESM), dist/, proto/", () => {
    const copies = all(runtime, "COPY").map((i) => i.args)
    assert.strictEqual(copies.some((a) => /\bpackage\.json\b/.test(a)), true)
    assert.strictEqual(copies.some((a) => /^proto\b|\sproto\b/.test(a)), true)
    // proto/ is loaded from ../../../proto relative to dist/api/grpc: proto and dist are siblings
    const workdir = all(runtime, "WORKDIR").at(-1)!.args
    assert.strictEqual(copies.some((a) => /\.\/dist$/.test(a)), true)
    assert.strictEqual(copies.some((a) => /\.\/proto$/.test(a)), true)
    assert.strictEqual(workdir, "/app")
  })

  it("ships every bin of package.json (the balance-admin CLI) and puts it on PATH", () => {
    const copied = all(runtime, "COPY").filter((i) => !i.args.startsWith("--from")).flatMap((i) => i.args.split(" ").slice(0, -1))
    const runs = all(runtime, "RUN").map((i) => i.args).join("\n")
    const bins = Object.entries(pkg.bin ?? {})
    assert.isAbove(bins.length, 0)
    for (const [name, path] of bins) {
      const file = path.replace(/^\.\//, "")
      assert.isTrue(copied.some((c) => c === file || file.startsWith(`${c.replace(/\/$/, "")}/`)), `${path} is not copied into the runtime stage`)
      assert.include(runs, `ln -s /app/${file} /usr/local/bin/${name}`, `${name} is not linked onto PATH`)
      // It loads the compiled CLI from dist/, which the runtime stage copies from the build stage.
      assert.match(read(file), /\.\.\/dist\/cli\/main\.js/)
    }
  })

  it("copies into the build stage every file that npm run build reads", () => {
    const copied = all(build!, "COPY").flatMap((i) => i.args.split(" ").slice(0, -1)).filter((s) => !s.startsWith("--"))
    const needs = ["package.json", "package-lock.json", "tsconfig.json", "tsconfig.build.json", "src"]
    for (const path of (pkg.scripts["build"] ?? "").match(/\b(scripts\/[\w./-]+)/g) ?? []) needs.push(path)
    for (const need of needs) {
      const covered = copied.some((c) => c === need || need.startsWith(`${c.replace(/\/$/, "")}/`))
      assert.strictEqual(covered, true, `${need} is not copied into the build stage`)
    }
  })
})

describe(".dockerignore", () => {
  const entries = read(".dockerignore")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"))

  it("keeps local state, secrets and host builds out of the context", () => {
    assert.includeMembers(entries, [".git", "node_modules", "dist", ".data", ".env", "test"])
  })

  it("does not exclude what the build needs", () => {
    for (const needed of ["src", "proto", "scripts", "bin", "package.json", "package-lock.json", "tsconfig.json", "tsconfig.build.json", "*", "**"]) {
      assert.notInclude(entries, needed, needed)
    }
  })
})

describe("parseDockerfile", () => {
  it("joins continuations and skips comments inside them", () => {
    const stages = parseDockerfile("FROM a:1 AS b\nRUN x \\\n  # note\n  && y\nCMD [\"z\"]\n")
    assert.deepStrictEqual(stages, [
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
    assert.deepStrictEqual(found.map(([k]) => k), ["DB_PASSWORD", "API_TOKEN"])
  })
})

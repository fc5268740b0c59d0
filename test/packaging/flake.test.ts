/**
 * flake.nix cannot be built here (no network for Nix), so it is checked by
 * reading: the dev shell's tools, a buildNpmPackage on Node 24 that installs
 * what the service needs at run time, and a program for `nix run`. When a Nix
 * binary is installed, the file is also parsed (which also catches undefined
 * variables).
 */
import { spawnSync } from "node:child_process"
import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"

const root = join(import.meta.dirname, "..", "..")
const flake = readFileSync(join(root, "flake.nix"), "utf8")
const code = flake
  .split("\n")
  .map((l) => l.replace(/#.*$/, ""))
  .join("\n")
const block = (start: string) => {
  const from = code.indexOf(start)
  expect(from, start).toBeGreaterThanOrEqual(0)
  return code.slice(from, code.indexOf("};", code.indexOf("[", from)))
}

describe("flake.nix", () => {
  it("nix develop: Node 24, redis, protobuf and grpcurl", () => {
    const shell = block("devShells")
    for (const tool of ["nodejs_24", "redis", "protobuf", "grpcurl"]) expect(shell).toMatch(new RegExp(`pkgs\\.${tool}\\b`))
  })

  it("nix build: buildNpmPackage on nodejs_24 with an npmDepsHash, shipping dist, proto and production node_modules", () => {
    expect(code).toMatch(/pkgs\.buildNpmPackage\s*\{/)
    expect(code).toMatch(/nodejs = pkgs\.nodejs_24;/)
    expect(code).toMatch(/npmDepsHash = (lib\.fakeHash|"sha256-[A-Za-z0-9+/=]{44}");/)
    expect(code).toMatch(/npm prune --omit=dev/)
    expect(code).toMatch(/cp -r [^\n]*\bpackage\.json\b[^\n]*\bdist\b[^\n]*\bproto\b[^\n]*\bnode_modules\b/)
    for (const path of ["package.json", "package-lock.json", "tsconfig.json", "tsconfig.build.json", "scripts", "src", "proto"]) {
      expect(code).toContain(`./${path}\n`)
      expect(existsSync(join(root, path)), path).toBe(true)
    }
  })

  it("explains how to get the npmDepsHash when it is still the placeholder", () => {
    if (/npmDepsHash = lib\.fakeHash/.test(code)) expect(flake).toMatch(/prefetch-npm-deps package-lock\.json/)
  })

  it("nix run: a main program wrapping node dist/main.js", () => {
    expect(code).toMatch(/mainProgram = "balance-service";/)
    expect(code).toMatch(/makeWrapper \$\{lib\.getExe nodejs\} \$out\/bin\/balance-service/)
    expect(code).toMatch(/--add-flags \$out\/lib\/balance-service\/dist\/main\.js/)
  })

  const nix = spawnSync("nix-instantiate", ["--version"], { encoding: "utf8" }).status === 0
  it.skipIf(!nix)("parses (nix-instantiate --parse, when Nix is installed)", () => {
    const r = spawnSync("nix-instantiate", ["--parse", "flake.nix"], { cwd: root, encoding: "utf8" })
    expect(r.stderr.replace(/^warning:.*$/gm, "").trim()).toBe("")
    expect(r.status).toBe(0)
  })
})

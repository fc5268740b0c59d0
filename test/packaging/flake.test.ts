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
import { assert, describe, it } from "@effect/vitest"

const root = join(import.meta.dirname, "..", "..")
const flake = readFileSync(join(root, "flake.nix"), "utf8")
const code = flake
  .split("\n")
  .map((l) => l.replace(/#.*$/, ""))
  .join("\n")
const block = (start: string) => {
  const from = code.indexOf(start)
  assert.isAtLeast(from, 0, start)
  return code.slice(from, code.indexOf("};", code.indexOf("[", from)))
}

describe("flake.nix", () => {
  it("nix develop: Node 24, redis, protobuf and grpcurl", () => {
    const shell = block("devShells")
    for (const tool of ["nodejs_24", "redis", "protobuf", "grpcurl"]) assert.match(shell, new RegExp(`pkgs\\.${tool}\\b`))
  })

  it("nix build: buildNpmPackage on nodejs_24 with an npmDepsHash, shipping dist, proto and production node_modules", () => {
    assert.match(code, /pkgs\.buildNpmPackage\s*\{/)
    assert.match(code, /nodejs = pkgs\.nodejs_24;/)
    assert.match(code, /npmDepsHash = (lib\.fakeHash|"sha256-[A-Za-z0-9+/=]{44}");/)
    assert.match(code, /npm prune --omit=dev/)
    assert.match(code, /cp -r [^\n]*\bpackage\.json\b[^\n]*\bdist\b[^\n]*\bproto\b[^\n]*\bnode_modules\b/)
    for (const path of ["package.json", "package-lock.json", "tsconfig.json", "tsconfig.build.json", "scripts", "src", "proto"]) {
      assert.include(code, `./${path}\n`)
      assert.strictEqual(existsSync(join(root, path)), true, path)
    }
  })

  it("explains how to get the npmDepsHash when it is still the placeholder", () => {
    if (/npmDepsHash = lib\.fakeHash/.test(code)) assert.match(flake, /prefetch-npm-deps package-lock\.json/)
  })

  it("nix run: a main program wrapping node dist/main.js", () => {
    assert.match(code, /mainProgram = "balance-service";/)
    assert.match(code, /makeWrapper \$\{lib\.getExe nodejs\} \$out\/bin\/balance-service/)
    assert.match(code, /--add-flags \$out\/lib\/balance-service\/dist\/main\.js/)
  })

  const nix = spawnSync("nix-instantiate", ["--version"], { encoding: "utf8" }).status === 0
  it.skipIf(!nix)("parses (nix-instantiate --parse, when Nix is installed)", () => {
    const r = spawnSync("nix-instantiate", ["--parse", "flake.nix"], { cwd: root, encoding: "utf8" })
    assert.strictEqual(r.stderr.replace(/^warning:.*$/gm, "").trim(), "")
    assert.strictEqual(r.status, 0)
  })
})

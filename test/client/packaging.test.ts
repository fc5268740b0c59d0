import { execFileSync } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import { GENERATED_FILE, render } from "../../client/scripts/generate.ts"
import { REFUSAL_CODES } from "../../client/src/index.ts"
import { RefusalCode } from "../../src/domain/errors.ts"

/**
 * @balance/client as something to publish: its contract file is generated
 * from proto/balance.proto and src/domain/errors.ts (stale = this fails), and
 * the package builds, and what its exports map names exists and loads.
 */

const ROOT = fileURLToPath(new URL("../../", import.meta.url))
const CLIENT = join(ROOT, "client")

describe("@balance/client packaging", () => {
  it("the generated contract file is up to date (else: npm run client:generate)", () => {
    assert.strictEqual(readFileSync(GENERATED_FILE, "utf8"), render(), "client/src/generated/balanceService.ts is stale: run `npm run client:generate`")
    assert.deepStrictEqual([...REFUSAL_CODES], [...RefusalCode.literals])
  })

  it("builds, and every entry of the exports map and bin exists and loads", async () => {
    const out = mkdtempSync(join(tmpdir(), "balance-client-dist-"))
    try {
      execFileSync(join(ROOT, "node_modules", ".bin", "tsc"), ["-p", join(CLIENT, "tsconfig.json"), "--outDir", out], { stdio: "pipe" })
      const pkg = JSON.parse(readFileSync(join(CLIENT, "package.json"), "utf8")) as {
        exports: Record<string, string | { types: string; import: string }>
        bin: Record<string, string>
        dependencies: Record<string, string>
      }
      const built = (path: string) => join(out, path.replace(/^\.\/dist\//, ""))
      for (const [entry, target] of Object.entries(pkg.exports)) {
        if (typeof target === "string") continue
        assert.isTrue(existsSync(built(target.types)), `${entry} types ${target.types}`)
        assert.isTrue(existsSync(built(target.import)), `${entry} import ${target.import}`)
      }
      for (const [name, path] of Object.entries(pkg.bin)) assert.isTrue(existsSync(built(path)), `bin ${name}`)
      const main = await import(pathToFileURL(built((pkg.exports["."] as { import: string }).import)).href) as Record<string, unknown>
      for (const name of ["BalanceClient", "GameBalance", "BalanceRefusal", "BalanceUnavailable", "buildReport", "openTelemetry", "REFUSAL_CODES"]) {
        assert.isDefined(main[name], name)
      }
      const effect = await import(pathToFileURL(built((pkg.exports["./effect"] as { import: string }).import)).href) as Record<string, unknown>
      assert.isDefined(effect.BalanceGateway)
      // Nothing outside the package at run time: its own files, its dependencies, node builtins and its optional peers.
      const root = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { dependencies: Record<string, string> }
      for (const [dep, range] of Object.entries(pkg.dependencies)) assert.include(range, root.dependencies[dep]!.split(".")[0]!, `${dep} as the service uses it`)
    } finally {
      rmSync(out, { recursive: true, force: true })
    }
  }, 120_000)
})

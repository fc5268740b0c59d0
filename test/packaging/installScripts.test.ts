/**
 * `npm ci` runs a dependency's install script only when package.json's allowScripts says so,
 * and warns about every one it was not told about: each is decided here, on purpose.
 * (@scarf/scarf, pulled in by swagger-ui-dist, would report the install to its vendor: refused.)
 */
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"

const root = join(import.meta.dirname, "..", "..")
const json = (path: string) => JSON.parse(readFileSync(join(root, path), "utf8"))

describe("install scripts", () => {
  it("every locked package with an install script is allowed or refused in allowScripts, and nothing else is listed", () => {
    const lock = json("package-lock.json") as { packages: Record<string, { hasInstallScript?: boolean }> }
    const withScripts = Object.entries(lock.packages)
      .filter(([, p]) => p.hasInstallScript === true)
      .map(([path]) => path.replace(/^.*node_modules\//, ""))
      .sort()
    const decided = json("package.json").allowScripts as Record<string, boolean>
    assert.deepStrictEqual(Object.keys(decided).sort(), withScripts)
    assert.strictEqual(decided["@scarf/scarf"], false)
  })
})

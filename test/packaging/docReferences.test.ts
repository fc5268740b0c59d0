/**
 * The documentation points only at files that are in the repository: a
 * reader following "see X.md" or "`deploy/alerts.yml`" finds it.
 */
import { spawnSync } from "node:child_process"
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"

const root = join(import.meta.dirname, "..", "..")
const tracked = spawnSync("git", ["ls-files"], { cwd: root, encoding: "utf8" }).stdout.split("\n").filter(Boolean)
const baseNames = new Set(tracked.map((f) => f.split("/").at(-1)!))
const documents = ["README.md", ...readdirSync(join(root, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)]

describe("documentation references", () => {
  it.each(documents)("%s names only files that exist", (document) => {
    const text = readFileSync(join(root, document), "utf8")
    // `path/file.ext` in backticks, and bare Markdown file names (DESIGN.md, operations.md).
    const quoted = [...text.matchAll(/`((?:[\w.-]+\/)*[\w-]+\.(?:md|ya?ml|json|ts|proto|lua|nix))`/g)].map((m) => m[1]!)
    const markdown = [...text.matchAll(/(?<![\w/.-])([\w-]+\.md)\b/g)].map((m) => m[1]!)
    assert.isAbove(tracked.length, 100)
    for (const name of new Set([...quoted, ...markdown])) {
      // A path must exist as written (from the root or docs/); a bare file name somewhere in the repository.
      const found = name.includes("/")
        ? existsSync(join(root, name)) || existsSync(join(root, "docs", name)) || tracked.some((f) => f.endsWith(`/${name}`))
        : baseNames.has(name)
      assert.strictEqual(found, true, `${document}: ${name}`)
    }
  })
})

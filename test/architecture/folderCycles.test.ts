import { readdirSync, readFileSync } from "node:fs"
import { dirname, join, relative, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), "../../src")

const sourceFiles = (dir: string): Array<string> =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? sourceFiles(join(dir, entry.name))
      : entry.name.endsWith(".ts") ? [join(dir, entry.name)] : []
  )

/**
 * src/api/http/x.ts -> "api": the top folder under src, where the layering is decided. A file
 * directly in src/ is a node of its own (main.ts imports everything, config.ts almost nothing).
 */
const folderOf = (file: string) => relative(SRC, file).split("/")[0]!

/** Folder -> the folders its files import (relative imports only; type-only imports count too: they couple the folders). */
const folderImports = (): Map<string, Set<string>> => {
  const graph = new Map<string, Set<string>>()
  for (const file of sourceFiles(SRC)) {
    const from = folderOf(file)
    const edges = graph.get(from) ?? new Set<string>()
    graph.set(from, edges)
    for (const [, spec] of readFileSync(file, "utf8").matchAll(/(?:import|export)[^"';]*?from\s*["'](\.[^"']+)["']/g)) {
      const to = folderOf(resolve(dirname(file), spec!))
      if (to !== from) edges.add(to)
    }
  }
  return graph
}

/** Every cycle among the folders, each as the path that closes it (a -> b -> a), found by depth-first search. */
const folderCycles = (graph: Map<string, Set<string>>): Array<Array<string>> => {
  const cycles: Array<Array<string>> = []
  const seen = new Set<string>()
  const visit = (node: string, path: Array<string>) => {
    const at = path.indexOf(node)
    if (at >= 0) {
      const cycle = [...path.slice(at), node]
      const key = [...cycle.slice(0, -1)].sort().join(",")
      if (!seen.has(key)) {
        seen.add(key)
        cycles.push(cycle)
      }
      return
    }
    for (const next of graph.get(node) ?? []) visit(next, [...path, node])
  }
  for (const node of graph.keys()) visit(node, [])
  return cycles
}

describe("src/ folders", () => {
  it("import each other without a cycle", () => {
    const graph = folderImports()
    // The scan sees the imports at all: the entry point reaches the wiring and the API.
    assert.isTrue(graph.get("main.ts")?.has("app"))
    assert.isTrue(graph.get("api")?.has("ledger"))
    const cycles = folderCycles(graph).map((cycle) => cycle.join(" -> "))
    assert.deepStrictEqual(cycles, [])
  })

  it("the check sees a cycle when there is one", () => {
    const graph = new Map([["a", new Set(["b"])], ["b", new Set(["c"])], ["c", new Set(["a"])], ["d", new Set(["a"])]])
    assert.deepStrictEqual(folderCycles(graph), [["a", "b", "c", "a"]])
  })
})

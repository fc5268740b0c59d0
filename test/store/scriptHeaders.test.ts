/**
 * Each store script's header documents its KEYS and ARGV; scriptLayouts.ts is the layout the
 * calls are built from. This holds them to each other: the same runs in the same order, at the
 * same positions, counted by the same ARGV, with the same fields; and the reply codes the header
 * lists to those the script builds and to those scriptResults.ts reads.
 */
import { assert, describe, it } from "@effect/vitest"
import { readLuaScript } from "../../src/store/redis/luaScripts.ts"
import type { Run, ScriptLayout } from "../../src/store/redis/scriptLayout.ts"
import { replyCodes } from "../../src/store/redis/scriptResults.ts"
import {
  applyLayout,
  applyLayout as batchLayout,
  applyPlanLayout,
  compactLayout,
  leaseLayout,
  ledgerLayout,
  loadLayout,
  retireLayout,
  transfersLayout,
  trimLayout
} from "../../src/store/redis/scriptLayouts.ts"

/** A run as the header states it: `fixed` at a position, or `count x name(fields)`. */
type HeaderRun =
  | { readonly _tag: "Fixed"; readonly name: string }
  | { readonly _tag: "Many"; readonly name: string; readonly count: string; readonly fields: ReadonlyArray<string> }

export interface ScriptHeader {
  readonly keys: ReadonlyArray<HeaderRun>
  readonly argv: ReadonlyArray<HeaderRun>
  /** Sections a nested run points at by name (apply.lua: "Plan KEYS", "Plan ARGV"). */
  readonly sections: Readonly<Record<string, ReadonlyArray<HeaderRun>>>
  /** Every `{"CODE"...}` under Returns. */
  readonly codes: ReadonlyArray<string>
  /** Every `{ "CODE"...` table the script's code builds (its replies). */
  readonly bodyCodes: ReadonlyArray<string>
}

const FIXED = /^\s+(\d+)\s+(\w+)\b/
const MANY = /^\s+then\s+(\w+)\s+x\s+(\w+)\(([^)]*)\)/

const parseRuns = (lines: ReadonlyArray<string>, script: string, section: string): Array<HeaderRun> => {
  const runs: Array<HeaderRun> = []
  for (const line of lines) {
    const many = MANY.exec(line)
    if (many) {
      runs.push({ _tag: "Many", name: many[2]!, count: many[1]!, fields: many[3]!.split(",").map((f) => f.trim()) })
      continue
    }
    const fixed = FIXED.exec(line)
    if (fixed) {
      // A fixed run after a `then` run would have no fixed position.
      assert.isFalse(runs.some((r) => r._tag === "Many"), `${script} ${section}: ${line.trim()} follows a variable run`)
      assert.strictEqual(Number(fixed[1]), runs.length + 1, `${script} ${section}: position of ${fixed[2]}`)
      runs.push({ _tag: "Fixed", name: fixed[2]! })
    }
  }
  return runs
}

export const parseScriptHeader = (script: string): ScriptHeader => {
  const source = readLuaScript(script)
  const headerMatch = /^--\[\[([\s\S]*?)\]\]/.exec(source)
  const header = headerMatch?.[1]
  assert.isDefined(header, `${script} starts with a --[[ header ]]`)
  const lines = header!.split("\n")
  const at = (re: RegExp) => lines.findIndex((l) => re.test(l))
  const keysAt = at(/^\s+KEYS\b/)
  const argvAt = at(/^\s+ARGV\b/)
  const returnsAt = at(/^\s+Returns\b/)
  assert.isTrue(keysAt >= 0 && argvAt > keysAt && returnsAt > argvAt, `${script}: KEYS, ARGV and Returns, in that order`)
  // Named sections between ARGV and Returns: `  <Name> KEYS` / `  <Name> ARGV` alone on a line.
  const sectionStarts = lines
    .map((l, i) => ({ i, name: /^\s+(\w+ (?:KEYS|ARGV))\s*$/.exec(l)?.[1] }))
    .filter((s): s is { i: number; name: string } => s.name !== undefined && s.i > argvAt && s.i < returnsAt)
  const argvEnd = sectionStarts[0]?.i ?? returnsAt
  const sections: Record<string, ReadonlyArray<HeaderRun>> = {}
  sectionStarts.forEach((section, n) => {
    sections[section.name] = parseRuns(lines.slice(section.i + 1, sectionStarts[n + 1]?.i ?? returnsAt), script, section.name)
  })
  return {
    keys: parseRuns(lines.slice(keysAt + 1, argvAt), script, "KEYS"),
    argv: parseRuns(lines.slice(argvAt + 1, argvEnd), script, "ARGV"),
    sections,
    codes: [...lines.slice(returnsAt).join("\n").matchAll(/\{\s*"([A-Z_]+)"/g)].map((m) => m[1]!),
    bodyCodes: [...new Set([...source.slice(headerMatch![0].length).matchAll(/\{\s*"([A-Z_]+)"/g)].map((m) => m[1]!))]
  }
}

/** Written in HeaderRun's key order, so that JSON of both sides compares. */
const asHeader = <In>(run: Run<In>): HeaderRun =>
  run._tag === "Many"
    ? { _tag: "Many", name: run.name, count: run.count, fields: run.fields }
    : run._tag === "Nested"
    ? { _tag: "Many", name: run.name, count: run.count, fields: [run.section] }
    : { _tag: "Fixed", name: run.name }

export const layouts: ReadonlyArray<ScriptLayout<never>> = [
  applyLayout,
  loadLayout,
  ledgerLayout,
  transfersLayout,
  leaseLayout,
  trimLayout,
  compactLayout,
  retireLayout
] as ReadonlyArray<ScriptLayout<never>>

/** What differs between a layout and its script's header ([] when they agree). */
export const layoutMismatches = (layout: ScriptLayout<never>, header: ScriptHeader): Array<string> => {
  const problems: Array<string> = []
  // A nested run's layout is held to the section it names, the same way.
  const nested = [...layout.keys, ...layout.argv].flatMap((r) => (r._tag === "Nested" ? [r] : []))
  const nestedLayouts = [...new Set(nested.map((r) => r.layout))]
  for (const sub of nestedLayouts) {
    const keysSection = nested.find((r) => r.layout === sub && r.part === "keys")?.section ?? "(no KEYS run)"
    const argvSection = nested.find((r) => r.layout === sub && r.part === "args")?.section ?? "(no ARGV run)"
    const keys = header.sections[keysSection]
    const argv = header.sections[argvSection]
    if (keys === undefined || argv === undefined) {
      problems.push(`${layout.script}: the header has no section ${keys === undefined ? keysSection : argvSection}`)
      continue
    }
    problems.push(...layoutMismatches(sub, { ...header, keys, argv, sections: {} }).map((p) => `${keysSection}/${argvSection}: ${p}`))
  }
  for (const [section, fromLayout, fromHeader] of [["KEYS", layout.keys, header.keys], ["ARGV", layout.argv, header.argv]] as const) {
    const expected = fromLayout.map(asHeader)
    for (let i = 0; i < Math.max(expected.length, fromHeader.length); i++) {
      const a = JSON.stringify(expected[i] ?? null)
      const b = JSON.stringify(fromHeader[i] ?? null)
      if (a !== b) problems.push(`${layout.script} ${section} run ${i + 1}: layout ${a}, header ${b}`)
    }
  }
  // Every count a run is counted by is an ARGV run, except load.lua's nObjects (the rest of KEYS).
  const argvNames = new Set(layout.argv.filter((r) => r._tag !== "Many").map((r) => r.name))
  for (const run of [...layout.keys, ...layout.argv]) {
    if (run._tag !== "One" && run._tag !== "Count" && !argvNames.has(run.count) && !(layout.script === "load.lua" && run.count === "nObjects")) {
      problems.push(`${layout.script}: ${run.name} is counted by ${run.count}, which is no ARGV`)
    }
  }
  return problems
}

describe("Lua script headers agree with scriptLayouts.ts", () => {
  for (const layout of layouts) {
    it(`${layout.script}: KEYS and ARGV runs, positions, counts and fields`, () => {
      assert.deepStrictEqual(layoutMismatches(layout, parseScriptHeader(layout.script)), [])
    })
  }

  for (const layout of layouts) {
    it(`${layout.script}: the reply codes in Returns are those the script builds and scriptResults.ts reads`, () => {
      const header = parseScriptHeader(layout.script).codes
      assert.deepStrictEqual([...(replyCodes[layout.script] ?? ["(no entry in replyCodes)"])].sort(), [...header].sort())
      assert.strictEqual(new Set(header).size, header.length, `${layout.script}: a code listed twice`)
      assert.deepStrictEqual([...parseScriptHeader(layout.script).bodyCodes].sort(), [...header].sort(), "codes the script returns")
    })
  }

  it("the check sees two runs of the same width swapped, in the layout or in the header", () => {
    const batchHeader = parseScriptHeader("apply.lua")
    // The plan's runs: its layout against its header section.
    const header = { ...batchHeader, keys: batchHeader.sections["Plan KEYS"]!, argv: batchHeader.sections["Plan ARGV"]!, sections: {} }
    const applyLayout = applyPlanLayout
    const swap = <A>(xs: ReadonlyArray<A>, i: number, j: number) => {
      const ys = [...xs]
      ;[ys[i], ys[j]] = [ys[j]!, ys[i]!]
      return ys
    }
    const at = (runs: ReadonlyArray<{ readonly name: string }>, name: string, from = 0) =>
      runs.findIndex((r, i) => i >= from && r.name === name)
    // expiryRemove and newAccount: both one field, next to each other but for expiryAdd.
    const argv = applyLayout.argv
    const i = at(argv, "expiryRemove", at(argv, "nClosedAccounts"))
    const j = at(argv, "newAccount")
    const swappedLayout = { ...applyLayout, argv: swap(argv, i, j) } as ScriptLayout<never>
    assert.isAbove(layoutMismatches(swappedLayout, header).length, 0)
    const swappedHeader = { ...header, argv: swap(header.argv, i, j) }
    assert.isAbove(layoutMismatches(applyLayout as ScriptLayout<never>, swappedHeader).length, 0)
    // Two counts (fixed runs) swapped.
    const swappedCounts = { ...header, argv: swap(header.argv, at(argv, "nWrites"), at(argv, "nEntries")) }
    assert.isAbove(layoutMismatches(applyLayout as ScriptLayout<never>, swappedCounts).length, 0)
    // The same swap seen through the batch layout, in the header's Plan ARGV section.
    const swappedSection = { ...batchHeader, sections: { ...batchHeader.sections, "Plan ARGV": swappedHeader.argv } }
    assert.deepStrictEqual(layoutMismatches(batchLayout as ScriptLayout<never>, batchHeader), [])
    assert.isAbove(layoutMismatches(batchLayout as ScriptLayout<never>, swappedSection).length, 0)
  })
})

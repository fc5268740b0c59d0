/**
 * How one Lua script's KEYS and ARGV are laid out, written once: `scriptCall` builds every call
 * from it, and test/store/scriptHeaders.test.ts checks it against the header of the .lua file
 * (same runs, same order, same fields), so script, header and caller cannot drift apart.
 *
 * KEYS and ARGV are each a sequence of runs:
 *   One    a single string at a fixed position (header: `<position>  <name>  ...`)
 *   Count  a single string at a fixed position: how many items a later run has; scriptCall writes
 *          it from that run, so the number and the items cannot disagree
 *   Many   `count` items of `fields.length` strings each (header: `then <count> x <name>(<fields>)`).
 *          `count` names a Count run; or a One run used as a flag ("0": no item, anything else: one
 *          item); or, when it names no run, a number the script derives itself (load.lua: the rest
 *          of KEYS). A last field written `...name` is variadic: as many strings as the field
 *          before it says.
 *   Nested `count` calls of another layout, each given whole (its KEYS in the KEYS run, its ARGV
 *          in the ARGV run; header: `then <count> x <name>(Plan KEYS)` and a section of its own):
 *          apply.lua's batch of plans. Each call is built from its own layout first, so its counts
 *          are checked per call.
 */
export type Run<In> =
  | { readonly _tag: "One"; readonly name: string; readonly value: (input: In) => string }
  | { readonly _tag: "Count"; readonly name: string }
  | {
    readonly _tag: "Many"
    readonly name: string
    readonly count: string
    readonly fields: ReadonlyArray<string>
    /** Appends the run's strings to `out`; returns how many items that was. */
    readonly items: (input: In, out: Array<string>) => number
  }
  | {
    readonly _tag: "Nested"
    readonly name: string
    readonly count: string
    /** The section of the header that lays out each call's strings ("Plan KEYS", "Plan ARGV"). */
    readonly section: string
    readonly layout: ScriptLayout<never>
    readonly part: "keys" | "args"
    readonly calls: (input: In) => ReadonlyArray<ScriptCall>
  }

export interface ScriptLayout<In> {
  /** The .lua file under src/store/redis/. */
  readonly script: string
  readonly keys: ReadonlyArray<Run<In>>
  readonly argv: ReadonlyArray<Run<In>>
}

/** KEYS and ARGV of one call, in the layout's order. */
export interface ScriptCall {
  readonly keys: ReadonlyArray<string>
  readonly args: ReadonlyArray<string>
}

export const one = <In>(name: string, value: (input: In) => string): Run<In> => ({ _tag: "One", name, value })
export const count = <In>(name: string): Run<In> => ({ _tag: "Count", name })
export const many = <In>(
  name: string,
  countName: string,
  fields: ReadonlyArray<string>,
  items: (input: In, out: Array<string>) => number
): Run<In> => ({ _tag: "Many", name, count: countName, fields, items })

/** `count` calls of `layout` (built by scriptCall from it), their KEYS or their ARGV. */
export const nested = <In, Sub>(
  name: string,
  countName: string,
  section: string,
  layout: ScriptLayout<Sub>,
  part: "keys" | "args",
  calls: (input: In) => ReadonlyArray<ScriptCall>
): Run<In> => ({ _tag: "Nested", name, count: countName, section, layout: layout as ScriptLayout<never>, part, calls })

/** A Many run's items from a list: `fieldsOf` gives each element's strings (as many as the run's fields). */
export const each = <In, A>(
  name: string,
  countName: string,
  fields: ReadonlyArray<string>,
  list: (input: In) => ReadonlyArray<A>,
  fieldsOf: (a: A, input: In) => ReadonlyArray<string> | string
): Run<In> =>
  many(name, countName, fields, (input, out) => {
    const xs = list(input)
    for (const x of xs) {
      const f = fieldsOf(x, input)
      if (typeof f === "string") out.push(f)
      else out.push(...f)
    }
    return xs.length
  })

/** A layout the caller got wrong (a bug, thrown): the script would misread the call. */
export class ScriptLayoutError extends Error {
  override readonly name = "ScriptLayoutError"
}

const isVariadic = (fields: ReadonlyArray<string>) => fields.length > 0 && fields[fields.length - 1]!.startsWith("...")

const fill = <In>(
  layout: ScriptLayout<In>,
  runs: ReadonlyArray<Run<In>>,
  input: In,
  out: Array<string>,
  itemCounts: Map<string, number>,
  countSlots: Map<string, { readonly out: Array<string>; readonly at: number }>,
  flags: Map<string, string>
) => {
  for (const run of runs) {
    switch (run._tag) {
      case "One": {
        const value = run.value(input)
        flags.set(run.name, value)
        out.push(value)
        break
      }
      case "Count":
        countSlots.set(run.name, { out, at: out.length })
        out.push("")
        break
      case "Many": {
        const before = out.length
        const n = run.items(input, out)
        const written = out.length - before
        if (isVariadic(run.fields) ? written < n * (run.fields.length - 1) : written !== n * run.fields.length) {
          throw new ScriptLayoutError(`${layout.script}: run ${run.name} wrote ${written} strings for ${n} items of ${run.fields.join(", ")}`)
        }
        const seen = itemCounts.get(run.count)
        if (seen !== undefined && seen !== n) {
          throw new ScriptLayoutError(`${layout.script}: runs counted by ${run.count} have ${seen} and ${n} items`)
        }
        itemCounts.set(run.count, n)
        break
      }
      case "Nested": {
        const calls = run.calls(input)
        for (const c of calls) {
          const strings = c[run.part]
          for (let i = 0; i < strings.length; i++) out.push(strings[i]!)
        }
        const seen = itemCounts.get(run.count)
        if (seen !== undefined && seen !== calls.length) {
          throw new ScriptLayoutError(`${layout.script}: runs counted by ${run.count} have ${seen} and ${calls.length} items`)
        }
        itemCounts.set(run.count, calls.length)
      }
    }
  }
}

/** Builds one call of `layout`'s script; throws ScriptLayoutError when the items and their counts disagree. */
export const scriptCall = <In>(layout: ScriptLayout<In>, input: In): ScriptCall => {
  const keys: Array<string> = []
  const args: Array<string> = []
  const itemCounts = new Map<string, number>()
  const countSlots = new Map<string, { readonly out: Array<string>; readonly at: number }>()
  const flags = new Map<string, string>()
  fill(layout, layout.keys, input, keys, itemCounts, countSlots, flags)
  fill(layout, layout.argv, input, args, itemCounts, countSlots, flags)
  for (const [name, slot] of countSlots) {
    const n = itemCounts.get(name)
    if (n === undefined) throw new ScriptLayoutError(`${layout.script}: count ${name} counts no run`)
    slot.out[slot.at] = String(n)
  }
  for (const [name, n] of itemCounts) {
    const flag = flags.get(name)
    if (flag !== undefined && n !== (flag === "0" ? 0 : 1)) {
      throw new ScriptLayoutError(`${layout.script}: ${name} is "${flag}" but its run has ${n} items`)
    }
  }
  return { keys, args }
}

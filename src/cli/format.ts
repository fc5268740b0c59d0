/** Human output of the admin CLI: aligned tables and a progress bar. */

export type Cell = string | number | boolean | null | undefined

const text = (c: Cell) => (c === null || c === undefined ? "-" : typeof c === "number" ? c.toLocaleString("en-US") : String(c))

/** Columns padded to their widest cell; numbers right-aligned. */
export const table = (columns: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<Cell>>): string => {
  const cells = rows.map((r) => r.map(text))
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((r) => (r[i] ?? "").length)))
  const numeric = columns.map((_, i) => rows.length > 0 && rows.every((r) => typeof r[i] === "number" || r[i] === null || r[i] === undefined))
  const line = (values: ReadonlyArray<string>) =>
    values.map((v, i) => (numeric[i] ? v.padStart(widths[i]!) : v.padEnd(widths[i]!))).join("  ").trimEnd()
  return [line(columns), line(widths.map((w) => "-".repeat(w))), ...cells.map(line)].join("\n")
}

/** `label  value` lines, labels aligned. */
export const fields = (pairs: ReadonlyArray<readonly [string, Cell]>): string => {
  const width = Math.max(...pairs.map(([k]) => k.length))
  return pairs.map(([k, v]) => `${k.padEnd(width)}  ${text(v)}`).join("\n")
}

/** `[##########----------]  50%  5/10 accounts` */
export const progressBar = (done: number, total: number, suffix: string, width = 30): string => {
  const ratio = total <= 0 ? 0 : Math.min(1, done / total)
  const filled = Math.round(ratio * width)
  return `[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${String(Math.floor(ratio * 100)).padStart(3)}%  ${suffix}`
}

/**
 * A strict parser of the Prometheus text exposition format (0.0.4), enough
 * to hold the service's `/metrics` to it: every line must parse, every
 * sample belongs to a family declared with TYPE, TYPE/HELP
 * come at most once per family and before its samples, a family's samples
 * are contiguous, no series appears twice, sample names fit their family's
 * type (`_bucket`/`_sum`/`_count` for histograms), and histogram buckets are
 * ascending, cumulative and end in `+Inf` equal to `_count`. Any violation
 * throws with the line number.
 */

export type MetricType = "counter" | "gauge" | "histogram" | "summary" | "untyped"

export interface Sample {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}

export interface Family {
  readonly name: string
  type: MetricType
  help: string | undefined
  readonly samples: Array<Sample>
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/
const TYPES: ReadonlySet<string> = new Set(["counter", "gauge", "histogram", "summary", "untyped"])

const parseValue = (text: string, where: string): number => {
  // Prometheus parses values with Go's ParseFloat: NaN and Inf in any case (prom-client writes "Nan").
  if (/^\+?inf(inity)?$/i.test(text)) return Number.POSITIVE_INFINITY
  if (/^-inf(inity)?$/i.test(text)) return Number.NEGATIVE_INFINITY
  if (/^nan$/i.test(text)) return Number.NaN
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new Error(`${where}: bad value ${JSON.stringify(text)}`)
  return Number(text)
}

/** `{a="x",b="y\"z"}` starting at `start` (the `{`); returns the labels and the index after `}`. */
const parseLabels = (line: string, start: number, where: string): [Record<string, string>, number] => {
  const labels: Record<string, string> = {}
  let i = start + 1
  for (;;) {
    if (line[i] === "}") return [labels, i + 1]
    const eq = line.indexOf("=", i)
    if (eq < 0) throw new Error(`${where}: label without '='`)
    const name = line.slice(i, eq)
    if (!LABEL_NAME.test(name) || name.startsWith("__")) throw new Error(`${where}: bad label name ${JSON.stringify(name)}`)
    if (name in labels) throw new Error(`${where}: label ${name} twice`)
    if (line[eq + 1] !== '"') throw new Error(`${where}: label value of ${name} not quoted`)
    let value = ""
    let j = eq + 2
    for (;; j++) {
      const c = line[j]
      if (c === undefined) throw new Error(`${where}: unterminated label value`)
      if (c === '"') break
      if (c === "\\") {
        const n = line[++j]
        if (n === "n") value += "\n"
        else if (n === "\\" || n === '"') value += n
        else throw new Error(`${where}: bad escape \\${n}`)
      } else {
        value += c
      }
    }
    labels[name] = value
    i = j + 1
    if (line[i] === ",") i++
    else if (line[i] !== "}") throw new Error(`${where}: expected ',' or '}' after label ${name}`)
  }
}

const familyOf = (sampleName: string, families: ReadonlyMap<string, Family>): Family | undefined => {
  for (const suffix of ["_bucket", "_sum", "_count"]) {
    if (sampleName.endsWith(suffix)) {
      const f = families.get(sampleName.slice(0, -suffix.length))
      if (f && (f.type === "histogram" || f.type === "summary")) return f
    }
  }
  return families.get(sampleName)
}

const seriesKey = (s: Sample) =>
  `${s.name}{${Object.keys(s.labels).sort().map((k) => `${k}=${JSON.stringify(s.labels[k])}`).join(",")}}`

const checkHistogram = (f: Family) => {
  const groups = new Map<string, { buckets: Array<Sample>; count?: number; sum?: number }>()
  for (const s of f.samples) {
    const { le: _le, ...rest } = s.labels
    const key = seriesKey({ name: f.name, labels: rest, value: 0 })
    const g = groups.get(key) ?? { buckets: [] }
    groups.set(key, g)
    if (s.name === `${f.name}_bucket`) {
      if (s.labels.le === undefined) throw new Error(`${f.name}: bucket without le`)
      g.buckets.push(s)
    } else if (s.name === `${f.name}_count`) g.count = s.value
    else if (s.name === `${f.name}_sum`) g.sum = s.value
    else throw new Error(`${f.name}: unexpected sample ${s.name} in a histogram`)
  }
  for (const [key, g] of groups) {
    if (g.count === undefined || g.sum === undefined) throw new Error(`${key}: histogram without _count or _sum`)
    let prevLe = Number.NEGATIVE_INFINITY
    let prevValue = 0
    for (const b of g.buckets) {
      const le = parseValue(b.labels.le!, key)
      if (!(le > prevLe)) throw new Error(`${key}: buckets not ascending at le=${b.labels.le}`)
      if (b.value < prevValue) throw new Error(`${key}: buckets not cumulative at le=${b.labels.le}`)
      prevLe = le
      prevValue = b.value
    }
    if (prevLe !== Number.POSITIVE_INFINITY) throw new Error(`${key}: no +Inf bucket`)
    if (prevValue !== g.count) throw new Error(`${key}: +Inf bucket ${prevValue} != _count ${g.count}`)
  }
}

export const parsePrometheusText = (text: string): Map<string, Family> => {
  const families = new Map<string, Family>()
  const seen = new Set<string>()
  const closed = new Set<string>()
  let current: Family | undefined
  const declare = (name: string, where: string): Family => {
    if (!METRIC_NAME.test(name)) throw new Error(`${where}: bad metric name ${JSON.stringify(name)}`)
    let f = families.get(name)
    if (!f) {
      f = { name, type: "untyped", help: undefined, samples: [] }
      families.set(name, f)
    } else if (f.samples.length > 0) {
      throw new Error(`${where}: metadata for ${name} after its samples`)
    }
    return f
  }
  const lines = text.split("\n")
  if (lines.at(-1) === "") lines.pop()
  for (const [n, line] of lines.entries()) {
    const where = `line ${n + 1}`
    if (line.trim() === "") continue
    if (line.startsWith("#")) {
      const m = /^# (HELP|TYPE) (\S+)(?: (.*))?$/.exec(line)
      if (!m) continue // a plain comment
      const f = declare(m[2]!, where)
      if (m[1] === "HELP") {
        if (f.help !== undefined) throw new Error(`${where}: second HELP for ${f.name}`)
        f.help = (m[3] ?? "").replace(/\\n/g, "\n").replace(/\\\\/g, "\\")
      } else {
        if (f.type !== "untyped" || !TYPES.has(m[3] ?? "")) throw new Error(`${where}: bad or second TYPE for ${f.name}`)
        f.type = m[3] as MetricType
      }
      continue
    }
    const nameEnd = line.search(/[{ ]/)
    if (nameEnd <= 0) throw new Error(`${where}: not a sample: ${line}`)
    const name = line.slice(0, nameEnd)
    if (!METRIC_NAME.test(name)) throw new Error(`${where}: bad metric name ${JSON.stringify(name)}`)
    let labels: Record<string, string> = {}
    let rest = nameEnd
    if (line[nameEnd] === "{") [labels, rest] = parseLabels(line, nameEnd, where)
    const fields = line.slice(rest).trim().split(/ +/)
    if (fields.length < 1 || fields.length > 2 || fields[0] === "") throw new Error(`${where}: expected value [timestamp]`)
    const sample: Sample = { name, labels, value: parseValue(fields[0]!, where) }
    // The format allows untyped samples; the service declares every family, so one without TYPE is a bug.
    const family = familyOf(name, families)
    if (family === undefined || family.type === "untyped") throw new Error(`${where}: sample ${name} without a TYPE`)
    if (family !== current) {
      if (current) closed.add(current.name)
      if (closed.has(family.name)) throw new Error(`${where}: samples of ${family.name} are not contiguous`)
      current = family
    }
    if ((family.type === "counter" || family.type === "gauge") && name !== family.name) {
      throw new Error(`${where}: sample ${name} does not belong to ${family.type} ${family.name}`)
    }
    const key = seriesKey(sample)
    if (seen.has(key)) throw new Error(`${where}: duplicate series ${key}`)
    seen.add(key)
    family.samples.push(sample)
  }
  for (const f of families.values()) if (f.type === "histogram") checkHistogram(f)
  return families
}

/** The value of the one sample named `name` whose labels are exactly `labels`; throws when there is none. */
export const valueOf = (
  families: ReadonlyMap<string, Family>,
  name: string,
  labels: Readonly<Record<string, string>> = {}
): number => {
  const want = seriesKey({ name, labels, value: 0 })
  for (const f of families.values()) {
    for (const s of f.samples) if (seriesKey(s) === want) return s.value
  }
  throw new Error(`no series ${want}`)
}

/** Every sample named `name` (across label sets). */
export const samplesOf = (families: ReadonlyMap<string, Family>, name: string): ReadonlyArray<Sample> =>
  [...families.values()].flatMap((f) => f.samples.filter((s) => s.name === name))

import { Clock, Effect } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { type Bucket, BUCKET_MS, type Coverage, EconomyHistory, type TimeRange } from "../../../economy/EconomyHistory.ts"
import { BadRequest, storeUnavailable } from "../ApiErrors.ts"
import { BalanceApi } from "../BalanceApi.ts"
import { iso } from "../schemas/CommonSchemas.ts"

const DAY_MS = 86_400_000
const DEFAULT_TOP = 10
/** A chart has at most this many points: 83 days by the hour, 5 years by the day. */
export const MAX_POINTS = 2_000

const invalid = (path: string, message: string) =>
  new BadRequest({ error: "INVALID_RANGE", message: `${path}: ${message}`, details: { issues: [{ in: "query", path, message }] } })

/** `from`/`to` as a range, 24 hours up to now by default; `from` must come before `to`. */
const rangeOf = Effect.fnUntraced(function*(query: { readonly from?: string; readonly to?: string }) {
  const to = query.to === undefined ? yield* Clock.currentTimeMillis : Date.parse(query.to)
  const from = query.from === undefined ? to - DAY_MS : Date.parse(query.from)
  if (from >= to) return yield* invalid("from", "from must be before to")
  const range: TimeRange = { from, to }
  return range
})

const coverageView = (c: Coverage) => ({
  ...c,
  historyFrom: c.historyFrom === null ? null : iso(c.historyFrom),
  archivedThrough: c.archivedThrough === null ? null : iso(c.archivedThrough)
})
const rangeView = (r: TimeRange) => ({ from: iso(r.from), to: iso(r.to) })

export const EconomyHandlers = HttpApiBuilder.group(BalanceApi, "economy", Effect.fnUntraced(function*(handlers) {
  const history = yield* EconomyHistory
  return handlers
    .handle("supplySeries", Effect.fnUntraced(function*({ query }) {
      const range = yield* rangeOf(query)
      const bucket: Bucket = query.bucket ?? "hour"
      const points = Math.ceil((range.to - Math.floor(range.from / BUCKET_MS[bucket]) * BUCKET_MS[bucket]) / BUCKET_MS[bucket])
      if (points > MAX_POINTS) return yield* invalid("bucket", `the range holds ${points} ${bucket}s; at most ${MAX_POINTS} points per request`)
      const s = yield* history.supplySeries(range, bucket).pipe(Effect.mapError(storeUnavailable))
      return {
        ...rangeView(s.range),
        bucket: s.bucket,
        coverage: coverageView(s.coverage),
        points: s.points.map((p) => ({ ...p, start: iso(p.start), end: iso(p.end) }))
      }
    }))
    .handle("flows", Effect.fnUntraced(function*({ query }) {
      const { range, coverage, ...flows } = yield* history.flows(yield* rangeOf(query)).pipe(Effect.mapError(storeUnavailable))
      return { ...rangeView(range), coverage: coverageView(coverage), ...flows }
    }))
    .handle("rake", Effect.fnUntraced(function*({ query }) {
      const r = yield* history.rakeByTable(yield* rangeOf(query), query.limit ?? DEFAULT_TOP).pipe(Effect.mapError(storeUnavailable))
      return { ...rangeView(r.range), coverage: coverageView(r.coverage), total: r.total, tables: r.tables }
    }))
    .handle("reservations", Effect.fnUntraced(function*({ query }) {
      const { range, coverage, ...counts } = yield* history.reservationOutcomes(yield* rangeOf(query)).pipe(Effect.mapError(storeUnavailable))
      return { ...rangeView(range), coverage: coverageView(coverage), ...counts }
    }))
    .handle("movers", Effect.fnUntraced(function*({ query }) {
      const m = yield* history.biggestMovers(yield* rangeOf(query), query.limit ?? DEFAULT_TOP).pipe(Effect.mapError(storeUnavailable))
      return { ...rangeView(m.range), coverage: coverageView(m.coverage), items: m.items }
    }))
}))

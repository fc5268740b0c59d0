// balance-service admin console: no framework, no asset from the internet. Every figure comes from
// the service's own admin API (/api/admin/...), called with the credential given at sign-in.

// ---- credential ------------------------------------------------------------------------------
// Kept in sessionStorage: it lives as long as this tab and is never written to localStorage, so a
// closed tab forgets it and another browser profile or a later visitor of the machine cannot read it.
const SESSION_KEY = "balance-admin-credential"
const credential = {
  get: () => {
    try { return JSON.parse(sessionStorage.getItem(SESSION_KEY) ?? "null") } catch { return null }
  },
  set: (c) => sessionStorage.setItem(SESSION_KEY, JSON.stringify(c)),
  clear: () => sessionStorage.removeItem(SESSION_KEY)
}

// ---- DOM helpers -----------------------------------------------------------------------------
/** Builds an element; text children are text nodes (never parsed as HTML). */
const h = (tag, attrs = {}, ...children) => {
  const el = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v)
    else if (k === "class") el.className = v
    else el.setAttribute(k, v === true ? "" : String(v))
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue
    el.append(c instanceof Node ? c : document.createTextNode(String(c)))
  }
  return el
}
/** replaceChildren, skipping the null/false an optional part leaves. */
const fill = (el, ...children) => el.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false))
const svg = (tag, attrs = {}, ...children) => {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag)
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined) el.setAttribute(k, String(v))
  for (const c of children.flat(Infinity)) if (c) el.append(c instanceof Node ? c : document.createTextNode(String(c)))
  return el
}
const num = (n) => (n === null || n === undefined ? "–" : Number(n).toLocaleString("en-US"))
const when = (iso) => (iso ? iso.replace("T", " ").replace(/\.\d+Z$/, "Z") : "–")
const announce = (text) => { document.getElementById("status").textContent = text }

/** A table with a caption; columns: [label, value(row) => node|text, {num}]. */
const dataTable = (caption, columns, rows, empty = "Nothing to show") =>
  h("table", {},
    h("caption", {}, caption),
    h("thead", {}, h("tr", {}, columns.map(([label, , o]) => h("th", { scope: "col", class: o?.num ? "num" : undefined }, label)))),
    h("tbody", {}, rows.length === 0
      ? h("tr", {}, h("td", { colspan: columns.length }, empty))
      : rows.map((r) => h("tr", {}, columns.map(([, value, o]) => h("td", { class: o?.num ? "num" : undefined }, value(r)))))))

const kv = (pairs) => h("dl", { class: "kv" }, pairs.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]))

// ---- API -------------------------------------------------------------------------------------
class ApiError extends Error {
  constructor(status, body) {
    super(`${status} ${body?.error ?? "ERROR"}: ${body?.message ?? ""}`)
    this.status = status
    this.code = body?.error
    this.body = body
  }
}

/** How long one request may wait for its answer: a stopped or wedged service is said so, not "Loading…" forever. */
const REQUEST_TIMEOUT_MS = 30_000

const call = async (method, path, { query, body, headers } = {}) => {
  const c = credential.get()
  const auth = c === null ? {} : c.kind === "jwt" ? { authorization: `Bearer ${c.value}` } : { "x-admin-key": c.value }
  const qs = query ? Object.entries(query).filter(([, v]) => v !== undefined && v !== "").map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join("&") : ""
  const deadline = new AbortController()
  const timer = setTimeout(() => deadline.abort(), REQUEST_TIMEOUT_MS)
  let response, text
  try {
    response = await fetch(`/api${path}${qs ? `?${qs}` : ""}`, {
      method,
      headers: { ...auth, ...(body === undefined ? {} : { "content-type": "application/json" }), ...headers },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: deadline.signal
    })
    text = await response.text()
  } catch (e) {
    if (deadline.signal.aborted) throw new Error(`no answer from the service within ${REQUEST_TIMEOUT_MS / 1000} s: it may be stopped or overloaded; try again`)
    throw e
  } finally {
    clearTimeout(timer)
  }
  const json = text ? JSON.parse(text) : null
  if (response.status === 401) {
    signOut("Your credential was refused; sign in again.")
    throw new ApiError(401, json)
  }
  if (!response.ok) throw new ApiError(response.status, json)
  return { status: response.status, headers: response.headers, body: json }
}
const get = async (path, query) => (await call("GET", path, { query })).body
const enc = encodeURIComponent

const errorText = (e) => (e instanceof ApiError ? e.message : `Error: ${e.message}`)

/** Runs `f`, showing an API error in `target` instead of throwing; answers whether it succeeded. */
const guarded = async (target, f) => {
  try {
    await f()
    return true
  } catch (e) {
    fill(target, h("p", { class: "error", role: "alert" }, errorText(e)))
    return false
  }
}

// ---- charts (hand-written SVG) -----------------------------------------------------------------
const W = 760, H = 240, PAD = { l: 70, r: 12, t: 10, b: 28 }

const scale = (d0, d1, r0, r1) => (v) => (d1 === d0 ? (r0 + r1) / 2 : r0 + ((v - d0) / (d1 - d0)) * (r1 - r0))
const niceTicks = (min, max, count = 4) => {
  if (min === max) return [min]
  const step = 10 ** Math.floor(Math.log10((max - min) / count))
  const err = ((max - min) / count) / step
  const s = step * (err >= 7.5 ? 10 : err >= 3.5 ? 5 : err >= 1.5 ? 2 : 1)
  const out = []
  for (let v = Math.ceil(min / s) * s; v <= max; v += s) out.push(v)
  return out
}
const shortTime = (ms, bucket) => {
  const d = new Date(ms)
  return bucket === "day" ? d.toISOString().slice(5, 10) : `${d.toISOString().slice(5, 10)} ${d.toISOString().slice(11, 16)}`
}

/** Lines over time: series = [{ name, color, values: [{ t, v }] }]. */
const lineChart = (title, series, bucket) => {
  const all = series.flatMap((s) => s.values)
  if (all.length === 0) return h("p", {}, "No data in this range.")
  const ts = all.map((p) => p.t), vs = all.map((p) => p.v)
  let lo = Math.min(...vs), hi = Math.max(...vs)
  if (lo === hi) { lo -= 1; hi += 1 }
  const x = scale(Math.min(...ts), Math.max(...ts), PAD.l, W - PAD.r)
  const y = scale(lo, hi, H - PAD.b, PAD.t)
  const yTicks = niceTicks(lo, hi)
  const xs = [...new Set(ts)].sort((a, b) => a - b)
  const xTicks = xs.filter((_, i) => i % Math.max(1, Math.ceil(xs.length / 6)) === 0)
  return h("figure", { class: "chart" },
    svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": title },
      svg("title", {}, title),
      svg("g", { class: "axis" },
        yTicks.map((v) => svg("g", {}, svg("line", { class: "grid-line", x1: PAD.l, x2: W - PAD.r, y1: y(v), y2: y(v) }), svg("text", { x: PAD.l - 6, y: y(v) + 4, "text-anchor": "end" }, num(v)))),
        xTicks.map((t) => svg("text", { x: x(t), y: H - 8, "text-anchor": "middle" }, shortTime(t, bucket)))),
      series.map((s) => svg("g", { "data-series": s.name },
        svg("polyline", { fill: "none", stroke: s.color, "stroke-width": 2, points: s.values.map((p) => `${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join(" ") }),
        s.values.map((p) => svg("circle", { cx: x(p.t), cy: y(p.v), r: 3, fill: s.color }, svg("title", {}, `${s.name} ${num(p.v)} at ${when(new Date(p.t).toISOString())}`)))))),
    h("figcaption", { class: "legend" }, series.map((s) => h("span", { class: `swatch-${s.name}` }, s.name))))
}

/** Grouped bars per bucket: groups = [{ name, color, values: [{ t, v }] }]. */
const barChart = (title, groups, bucket) => {
  const ts = [...new Set(groups.flatMap((g) => g.values.map((p) => p.t)))].sort((a, b) => a - b)
  if (ts.length === 0) return h("p", {}, "No data in this range.")
  const hi = Math.max(1, ...groups.flatMap((g) => g.values.map((p) => p.v)))
  const y = scale(0, hi, H - PAD.b, PAD.t)
  const slot = (W - PAD.l - PAD.r) / ts.length
  const bw = Math.max(1, (slot * 0.8) / groups.length)
  const xTicks = ts.filter((_, i) => i % Math.max(1, Math.ceil(ts.length / 6)) === 0)
  return h("figure", { class: "chart" },
    svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": title },
      svg("title", {}, title),
      svg("g", { class: "axis" },
        niceTicks(0, hi).map((v) => svg("g", {}, svg("line", { class: "grid-line", x1: PAD.l, x2: W - PAD.r, y1: y(v), y2: y(v) }), svg("text", { x: PAD.l - 6, y: y(v) + 4, "text-anchor": "end" }, num(v)))),
        xTicks.map((t) => svg("text", { x: PAD.l + ts.indexOf(t) * slot + slot / 2, y: H - 8, "text-anchor": "middle" }, shortTime(t, bucket)))),
      groups.map((g, gi) => svg("g", { "data-series": g.name }, g.values.filter((p) => p.v > 0).map((p) =>
        svg("rect", { x: PAD.l + ts.indexOf(p.t) * slot + slot * 0.1 + gi * bw, y: y(p.v), width: bw, height: H - PAD.b - y(p.v), fill: g.color },
          svg("title", {}, `${g.name} ${num(p.v)} in the ${bucket} from ${when(new Date(p.t).toISOString())}`)))))),
    h("figcaption", { class: "legend" }, groups.map((g) => h("span", { class: `swatch-${g.name}` }, g.name))))
}

const cssVar = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim()

// ---- pages -----------------------------------------------------------------------------------
const RANGES = {
  "24h": { hours: 24, bucket: "hour", label: "Last 24 hours, by hour" },
  "7d": { hours: 24 * 7, bucket: "hour", label: "Last 7 days, by hour" },
  "30d": { hours: 24 * 30, bucket: "day", label: "Last 30 days, by day" }
}

const coverageNote = (c) =>
  c.complete ? null : h("p", { class: "note" }, `Only history from ${when(c.historyFrom)} is available here (${c.source}); earlier figures are missing.`)

/** The archive's state, its lag and which instance archives (the archiver lease's holder and fencing token). */
const archiveSummary = (a) => {
  if (a === null) return "unknown"
  if (a.state === "NOT_CONFIGURED") return h("span", { id: "archive-state" }, a.state)
  return h("div", {},
    h("div", { id: "archive-state", class: a.state === "ACTIVE" ? "ok" : "bad" },
      `${a.state} · lag ${num(a.lagEntries)} entries, ${a.lagSeconds.toFixed(1)} s`),
    h("div", { id: "archive-leader" }, a.leader === null
      ? h("span", { class: "bad" }, "no instance holds the archiver lease")
      : `leader ${a.leader.owner} · fencing token ${num(a.leader.fencingToken)}`),
    h("div", { class: "label" }, `${num(a.archivedEntries)} entries archived · last batch ${a.lastBatchAt === null ? "none yet" : when(a.lastBatchAt)}`))
}

const overviewPage = async (page) => {
  page.append(h("h1", {}, "Overview"))
  const health = h("div", { id: "health" }, "Loading…")
  const rangeSelect = h("select", { id: "range" }, Object.entries(RANGES).map(([k, r]) => h("option", { value: k }, r.label)))
  const economy = h("div", { id: "economy" }, "Loading…")
  page.append(health,
    h("section", { class: "card", "aria-labelledby": "economy-title" },
      h("h2", { id: "economy-title" }, "Chip economy over time"),
      h("div", { class: "field" }, h("label", { for: "range" }, "Range"), rangeSelect),
      economy))
  await guarded(health, async () => {
    const o = await get("/admin/overview")
    const s = o.supply
    const last = o.verification.last
    fill(health,
      h("div", { class: "grid" },
        card("Store (Redis)", o.store.up ? h("span", { class: "ok" }, `up, ${o.store.latencyMs} ms`) : h("span", { class: "bad" }, `DOWN: ${o.store.error}`)),
        card("Credit queue", o.creditQueue === null ? "none" : `${num(o.creditQueue.pending)} pending · ${num(o.creditQueue.replayed)} replayed · ${num(o.creditQueue.deadLettered)} dead-lettered`),
        card("Dead letters", h("a", { href: "#/dead-letters", class: o.deadLetters.open > 0 ? "bad" : "ok" }, `${num(o.deadLetters.open)} open of ${num(o.deadLetters.total)}`)),
        card("Integrity", s === null ? "unknown (store down)" : h("span", { class: s.zeroSum ? "ok" : "bad" }, s.zeroSum ? "zero sum holds" : "SUPPLY DOES NOT ADD UP")),
        card("Last verification", last === null ? h("a", { href: "#/verify" }, "none yet: run one") : h("span", { class: last.ok ? "ok" : "bad" }, `${last.ok ? "OK" : `${last.findings.length} findings`} · ${last.mode} · ${when(last.finishedAt)}`)),
        card("Archive", archiveSummary(o.archive), o.archive?.message)),
      s === null ? null : h("div", { class: "grid", id: "supply-figures" },
        card("Minted", h("span", { class: "figure" }, num(s.minted))),
        card("Burned", h("span", { class: "figure" }, num(s.burned))),
        card("Raked", h("span", { class: "figure" }, num(s.raked))),
        card("In circulation", h("span", { class: "figure" }, num(s.circulation))),
        card("Held by reservations", h("span", { class: "figure" }, num(s.held)))))
  })
  const loadEconomy = () => guarded(economy, async () => {
    const r = RANGES[rangeSelect.value]
    const to = new Date()
    const from = new Date(to.getTime() - r.hours * 3_600_000)
    const range = { from: from.toISOString(), to: to.toISOString() }
    const [series, flows, rake, reservations, movers] = await Promise.all([
      get("/admin/economy/supply", { ...range, bucket: r.bucket }),
      get("/admin/economy/flows", range),
      get("/admin/economy/rake", { ...range, limit: 10 }),
      get("/admin/economy/reservations", range),
      get("/admin/economy/movers", { ...range, limit: 10 })
    ])
    const points = series.points.map((p) => ({ ...p, t: Date.parse(p.end) }))
    const at = (k) => points.map((p) => ({ t: p.t, v: p[k] }))
    const atStart = (k) => points.map((p) => ({ t: Date.parse(p.start), v: p[k] }))
    fill(economy,
      coverageNote(series.coverage),
      h("div", { id: "supply-chart" }, lineChart("Supply and circulation at the end of each " + r.bucket, [
        { name: "supply", color: cssVar("--supply"), values: at("supply") },
        { name: "circulation", color: cssVar("--circulation"), values: at("circulation") }
      ], r.bucket)),
      h("div", { id: "flows-chart" }, barChart("Chips minted, burned and raked per " + r.bucket, [
        { name: "minted", color: cssVar("--minted"), values: atStart("minted") },
        { name: "burned", color: cssVar("--burned"), values: atStart("burned") },
        { name: "raked", color: cssVar("--raked"), values: atStart("raked") }
      ], r.bucket)),
      h("details", {}, h("summary", {}, "The same figures as a table"),
        dataTable("Supply by " + r.bucket, [
          ["from", (p) => when(p.start)], ["supply", (p) => num(p.supply), { num: true }], ["circulation", (p) => num(p.circulation), { num: true }],
          ["minted", (p) => num(p.minted), { num: true }], ["burned", (p) => num(p.burned), { num: true }], ["raked", (p) => num(p.raked), { num: true }],
          ["moved", (p) => num(p.moved), { num: true }]
        ], series.points)),
      h("div", { class: "grid wide" },
        h("div", { class: "card" }, dataTable(`Chips moved by type (${num(flows.transfers)} transfers)`,
          [["type", (r) => r[0]], ["chips", (r) => num(r[1].chips), { num: true }], ["transfers", (r) => num(r[1].transfers), { num: true }]],
          Object.entries(flows.byType))),
        h("div", { class: "card" }, dataTable(`Rake per table (total ${num(rake.total)})`,
          [["table", (t) => h("a", { href: `#/tables/${enc(t.tableId)}` }, t.tableId)], ["raked", (t) => num(t.raked), { num: true }], ["hands", (t) => num(t.handsSettled), { num: true }]],
          rake.tables, "No settlements in this range")),
        h("div", { class: "card" }, h("h2", {}, "Reservations"), kv([
          ["created", num(reservations.created)], ["committed", num(reservations.committed)], ["released", num(reservations.released)],
          ["expired", num(reservations.expired)], ["expiry rate", reservations.expiryRate === null ? "–" : `${(reservations.expiryRate * 100).toFixed(1)} %`]
        ])),
        h("div", { class: "card" }, dataTable("Biggest movers",
          [["account", (m) => h("a", { href: `#/accounts/${enc(m.accountId)}` }, m.accountId)], ["net", (m) => num(m.net), { num: true }], ["volume", (m) => num(m.credits + m.debits), { num: true }]],
          movers.items, "No wallet moved in this range"))))
    announce("Economy figures loaded")
  })
  rangeSelect.addEventListener("change", loadEconomy)
  await loadEconomy()
}

const card = (label, value, extra) => h("div", { class: "card" }, h("div", { class: "label" }, label), h("div", {}, value), extra ? h("div", { class: "label" }, extra) : null)

/** A paged list: `load(cursor)` answers { items, nextCursor }; `render(items)` draws one page. */
const pager = (container, load, render) => {
  const stack = [undefined]
  const show = () => guarded(container, async () => {
    const page = await load(stack[stack.length - 1])
    const prev = h("button", { type: "button", class: "secondary", disabled: stack.length === 1, onclick: () => { stack.pop(); show() } }, "Previous page")
    const next = h("button", { type: "button", class: "secondary", disabled: page.nextCursor === null, onclick: () => { stack.push(page.nextCursor); show() } }, "Next page")
    fill(container, render(page.items), h("div", { class: "pager" }, prev, next))
  })
  return show()
}

const accountsPage = async (page, accountId) => {
  if (accountId !== undefined) return accountPage(page, accountId)
  page.append(h("h1", {}, "Accounts"))
  const results = h("div", { id: "account-results" })
  const input = h("input", { id: "prefix", name: "prefix", autocomplete: "off", spellcheck: "false" })
  page.append(h("form", { class: "inline card", role: "search", onsubmit: (e) => {
    e.preventDefault()
    pager(results, (cursor) => get("/admin/accounts", { prefix: input.value.trim(), cursor, limit: 25 }), (items) =>
      dataTable("Wallets", [
        ["account", (a) => h("a", { href: `#/accounts/${enc(a.accountId)}` }, a.accountId)],
        ["balance", (a) => num(a.balance), { num: true }], ["held", (a) => num(a.held), { num: true }],
        ["available", (a) => num(a.availableBalance), { num: true }], ["created", (a) => when(a.createdAt)]
      ], items, "No account starts with that"))
  } }, h("div", { class: "field" }, h("label", { for: "prefix" }, "Account id or its beginning"), input), h("button", { type: "submit" }, "Find")), results)
  input.focus()
}

const entryColumns = [
  ["seq", (e) => e.seq, { num: true }], ["type", (e) => e.type], ["amount", (e) => num(e.amount), { num: true }],
  ["balance after", (e) => num(e.balanceAfter), { num: true }], ["held after", (e) => num(e.heldAfter), { num: true }],
  ["time", (e) => when(e.timestamp)], ["transfer", (e) => h("span", { class: "mono" }, e.transferId || "–")]
]

/**
 * The seq of an account's newest ledger entry. The ledger pages forwards from a seq and says
 * nothing of its length, so this probes one-entry pages: doubling, then halving (about 2·log2(n) reads).
 */
const lastSeq = async (accountId) => {
  const exists = async (seq) => seq === 0 || (await get(`/accounts/${enc(accountId)}/ledger`, { cursor: seq - 1, limit: 1 })).items.length > 0
  let lo = 0, hi = 1
  while (await exists(hi)) { lo = hi; hi *= 2 }
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2)
    if (await exists(mid)) lo = mid
    else hi = mid
  }
  return lo
}

const PAGE = 20

/** The account's ledger by seq, newest page first, then older or newer pages. */
const ledgerPager = async (container, accountId) => {
  const last = await lastSeq(accountId)
  /** Entries after..after+count (seqs after+1 .. after+count). */
  const show = (after, count) => guarded(container, async () => {
    const page = await get(`/accounts/${enc(accountId)}/ledger`, { cursor: after, limit: Math.max(1, count) })
    const older = Math.max(0, after - PAGE)
    fill(container,
      dataTable(`Ledger: hash-chained entries ${last === 0 ? 0 : after + 1}–${after + page.items.length} of ${last}`, entryColumns, page.items, "No entries"),
      h("div", { class: "pager" },
        h("button", { type: "button", class: "secondary", disabled: after === 0, onclick: () => show(older, after - older) }, "Older entries"),
        h("button", { type: "button", class: "secondary", disabled: after + count >= last, onclick: () => show(after + count, PAGE) }, "Newer entries")))
  })
  await show(Math.max(0, last - PAGE), PAGE)
}

const accountPage = async (page, accountId) => {
  page.append(h("p", {}, h("a", { href: "#/accounts" }, "← Accounts")), h("h1", {}, `Account ${accountId}`))
  const summary = h("div", { id: "account-summary" }, "Loading…")
  const reservations = h("div", { class: "card", id: "account-reservations" })
  const ledger = h("div", { class: "card", id: "account-ledger" })
  const transfers = h("div", { class: "card", id: "account-transfers" })
  page.append(summary, h("p", {}, h("a", { href: `#/money/${enc(accountId)}` }, "Deposit or withdraw for this account")), reservations, ledger, transfers)
  // An id that is not an account (or not a valid id) is said once, above; the other cards would only repeat it.
  const exists = await guarded(summary, async () => {
    const b = await get(`/accounts/${enc(accountId)}/balance`)
    fill(summary, h("div", { class: "grid" },
      card("Balance", h("span", { class: "figure", id: "balance" }, num(b.balance))),
      card("Held", h("span", { class: "figure" }, num(b.held))),
      card("Available", h("span", { class: "figure" }, num(b.availableBalance))),
      card("Version", `${b.version}${b.stale ? " (stale: the store did not answer)" : ""}`)))
  })
  if (!exists) return
  await guarded(reservations, async () => {
    const r = await get(`/accounts/${enc(accountId)}/reservations`)
    fill(reservations, dataTable("Reservations", [
      ["id", (x) => h("span", { class: "mono" }, x.reservationId)], ["table", (x) => h("a", { href: `#/tables/${enc(x.tableId)}` }, x.tableId)],
      ["amount", (x) => num(x.amount), { num: true }], ["status", (x) => x.status], ["expires", (x) => when(x.expiresAt)]
    ], r.items, "No reservations"))
  })
  await guarded(ledger, () => ledgerPager(ledger, accountId))
  await pager(transfers, (cursor) => get(`/accounts/${enc(accountId)}/transactions`, { cursor, limit: 20 }), (items) =>
    dataTable("Transfers, newest first", [
      ["time", (t) => when(t.timestamp)], ["type", (t) => t.type], ["direction", (t) => t.direction],
      ["amount", (t) => num(t.amount), { num: true }], ["from", (t) => t.from], ["to", (t) => t.to]
    ], items, "No transfers"))
}

/** A random UUID; crypto.randomUUID exists only in secure contexts (HTTPS, localhost), getRandomValues everywhere. */
const uuid = () => {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID()
  const b = crypto.getRandomValues(new Uint8Array(16))
  b[6] = (b[6] & 0x0f) | 0x40
  b[8] = (b[8] & 0x3f) | 0x80
  const x = [...b].map((v) => v.toString(16).padStart(2, "0")).join("")
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`
}
const newKey = () => `console-${uuid()}`

const moneyPage = async (page, preset) => {
  page.append(h("h1", {}, "Deposit / withdraw"))
  const result = h("div", { id: "money-result", "aria-live": "polite" })
  const key = h("input", { id: "idempotency-key", name: "idempotencyKey", value: newKey(), class: "mono", size: 48, required: true })
  const account = h("input", { id: "money-account", name: "accountId", value: preset ?? "", required: true, autocomplete: "off" })
  const amount = h("input", { id: "money-amount", name: "amount", type: "number", min: 1, step: 1, required: true, inputmode: "numeric" })
  const kind = h("select", { id: "money-kind", name: "kind" }, h("option", { value: "deposit" }, "Deposit (mint → wallet)"), h("option", { value: "withdraw" }, "Withdraw (wallet → burn)"))
  const source = h("select", { id: "money-source", name: "source" }, ["ADMIN", "PURCHASE", "PROMO", "BONUS", "REFUND", "CORRECTION"].map((s) => h("option", { value: s }, s)))
  const reason = h("input", { id: "money-reason", name: "reason", maxlength: 256 })
  const submit = h("button", { type: "submit" }, "Submit")
  const form = h("form", { class: "card", id: "money-form", onsubmit: async (e) => {
    e.preventDefault()
    submit.disabled = true
    const path = `/accounts/${enc(account.value.trim())}/${kind.value}`
    const body = kind.value === "deposit" ? { amount: Number(amount.value), source: source.value } : { amount: Number(amount.value), ...(reason.value ? { reason: reason.value } : {}) }
    const usedKey = key.value
    try {
      const r = await call("POST", path, { body, headers: { "idempotency-key": usedKey } })
      const replayed = r.headers.get("idempotent-replayed") === "true"
      if (r.status === 202) {
        fill(result, h("div", { class: "result" }, h("p", {}, `Queued (${r.body.queueId}): the store is down; it is applied when it returns.`), kv([["idempotency key", h("code", {}, usedKey)]])))
      } else {
        // The entry is among the newest few (others may have landed since).
        const id = account.value.trim()
        const last = await lastSeq(id)
        const entries = (await get(`/accounts/${enc(id)}/ledger`, { cursor: Math.max(0, last - 50), limit: 50 })).items
        const entry = entries.find((x) => x.transferId === r.body.transactionId)
        fill(result, h("div", { class: "result" },
          h("p", {}, replayed ? "This key was used before: the original answer, nothing moved again." : `${kind.value === "deposit" ? "Deposited" : "Withdrew"} ${num(body.amount)} chips.`),
          kv([["transaction", h("code", {}, r.body.transactionId)], ["balance", num(r.body.balance)], ["available", num(r.body.availableBalance)], ["idempotency key", h("code", {}, usedKey)]]),
          entry === undefined ? null : dataTable("The ledger entry it made", [...entryColumns, ["checksum", (x) => h("span", { class: "mono" }, x.checksum.slice(0, 16) + "…")]], [entry])))
        key.value = newKey()
      }
      announce("Done")
    } catch (err) {
      fill(result, h("div", { class: "result bad", role: "alert" }, h("p", {}, err.message), kv([["idempotency key", h("code", {}, usedKey)]]),
        h("p", {}, "Nothing moved. Retrying with the same key is safe.")))
    } finally {
      submit.disabled = false
    }
  } },
    h("div", { class: "field" }, h("label", { for: "money-kind" }, "Operation"), kind),
    h("div", { class: "field" }, h("label", { for: "money-account" }, "Account id"), account),
    h("div", { class: "field" }, h("label", { for: "money-amount" }, "Amount (chips)"), amount),
    h("div", { class: "field" }, h("label", { for: "money-source" }, "Source (deposits)"), source),
    h("div", { class: "field" }, h("label", { for: "money-reason" }, "Reason (withdrawals, optional)"), reason),
    h("div", { class: "field" }, h("label", { for: "idempotency-key" }, "Idempotency key (generated; a retry with the same key moves nothing twice)"), key,
      h("button", { type: "button", class: "secondary", onclick: () => { key.value = newKey() } }, "New key")),
    h("p", {}, submit))
  page.append(form, result)
  ;(preset ? amount : account).focus()
}

const tablesPage = async (page, tableId) => {
  page.append(h("h1", {}, "Tables and hands"))
  const table = h("input", { id: "table-id", name: "tableId", value: tableId ?? "", required: true, autocomplete: "off" })
  const hand = h("input", { id: "hand-id", name: "handId", autocomplete: "off" })
  const out = h("div", { id: "table-result" })
  const show = () => guarded(out, async () => {
    const t = table.value.trim()
    const stacks = await get(`/admin/tables/${enc(t)}/stacks`)
    const parts = [h("div", { class: "card" }, dataTable(`Stacks at ${t} (total ${num(stacks.total)})`, [
      ["account", (s) => h("a", { href: `#/accounts/${enc(s.accountId)}` }, s.accountId)], ["stack", (s) => num(s.balance), { num: true }]
    ], stacks.items, "No stacks at this table"))]
    if (hand.value.trim() !== "") {
      const p = await get(`/admin/tables/${enc(t)}/hands/${enc(hand.value.trim())}/pot`)
      parts.push(h("div", { class: "card" }, h("h2", {}, `Hand ${p.handId}: ${p.status}, pot ${num(p.balance)}`),
        dataTable("Contributions", [["seat", (c) => c.seatId, { num: true }], ["account", (c) => c.accountId], ["amount", (c) => num(c.amount), { num: true }]], p.contributions),
        dataTable("Main and side pots", [["pot", (x) => (x.index === 0 ? "main" : `side ${x.index}`)], ["amount", (x) => num(x.amount), { num: true }], ["eligible seats", (x) => x.eligibleSeats.join(", ")]],
          p.pots.map((x, index) => ({ ...x, index })))))
    }
    fill(out, ...parts)
  })
  page.append(h("form", { class: "inline card", onsubmit: (e) => { e.preventDefault(); show() } },
    h("div", { class: "field" }, h("label", { for: "table-id" }, "Table id"), table),
    h("div", { class: "field" }, h("label", { for: "hand-id" }, "Hand id (optional)"), hand),
    h("button", { type: "submit" }, "Show")), out)
  if (tableId) await show()
  else table.focus()
}

const verifyPage = async (page) => {
  page.append(h("h1", {}, "Verification"))
  const mode = h("select", { id: "verify-mode" }, h("option", { value: "full" }, "Whole ledger, every chain from the start"), h("option", { value: "incremental" }, "Whole ledger, only what is new"), h("option", { value: "account" }, "One wallet"))
  const account = h("input", { id: "verify-account", autocomplete: "off" })
  const progress = h("progress", { id: "verify-progress", max: 1, value: 0, "aria-label": "Verification progress" })
  const progressText = h("p", { id: "verify-progress-text", "aria-live": "polite" })
  const report = h("div", { id: "verify-report" })
  const history = h("div", { class: "card", id: "verify-history" })
  const start = h("button", { type: "submit" }, "Run verification")
  const follow = async (jobId) => {
    for (;;) {
      const job = await get(`/admin/ledger/verifications/${enc(jobId)}`)
      const p = job.progress
      progress.max = Math.max(1, p.accountsTotal)
      progress.value = job.status === "DONE" ? progress.max : p.accountsChecked
      progressText.textContent = `${job.status}: ${num(p.accountsChecked)} of ${num(p.accountsTotal)} accounts, ${num(p.entriesChecked)} entries, ${num(p.findingsCount)} findings`
      if (job.status !== "RUNNING") return job
      await new Promise((r) => setTimeout(r, 300))
    }
  }
  const showReport = (job) => {
    const r = job.report
    fill(report, job.status === "FAILED"
      ? h("div", { class: "result bad", role: "alert" }, `Failed: ${job.error}`)
      : h("div", { class: r.ok ? "result" : "result bad" },
        h("p", { id: "verify-outcome" }, r.ok ? "OK: every chain links and checks, and all balances sum to 0." : `${r.findings.length} findings.`),
        kv([["mode", r.mode], ["accounts", num(r.accountsChecked)], ["entries", num(r.entriesChecked)], ["sum of balances", num(r.totalBalance)], ["finished", when(r.finishedAt)]]),
        r.findings.length === 0 ? null : dataTable("Findings", [["account", (f) => f.account], ["seq", (f) => f.seq ?? "–"], ["kind", (f) => f.kind], ["detail", (f) => f.detail]], r.findings)))
  }
  const loadHistory = () => guarded(history, async () => {
    const jobs = await get("/admin/ledger/verifications")
    fill(history, dataTable("Recent jobs on this instance", [
      ["started", (j) => when(j.startedAt)], ["mode", (j) => j.mode + (j.accountId ? ` (${j.accountId})` : "")], ["status", (j) => j.status],
      ["result", (j) => (j.report ? (j.report.ok ? "OK" : `${j.report.findings.length} findings`) : j.error ?? "–")]
    ], jobs.items, "No job yet"))
  })
  page.append(h("form", { class: "card", onsubmit: async (e) => {
    e.preventDefault()
    start.disabled = true
    fill(report)
    try {
      const body = mode.value === "account" ? { accountId: account.value.trim() } : { mode: mode.value }
      let jobId
      try {
        jobId = (await call("POST", "/admin/ledger/verifications", { body })).body.jobId
      } catch (err) {
        if (err.code !== "VERIFICATION_RUNNING") throw err
        jobId = err.body.details.jobId
        announce("A verification is already running: following it")
      }
      showReport(await follow(jobId))
      announce("Verification finished")
      await loadHistory()
    } catch (err) {
      fill(report, h("div", { class: "result bad", role: "alert" }, err.message))
    } finally {
      start.disabled = false
    }
  } },
    h("div", { class: "field" }, h("label", { for: "verify-mode" }, "What to verify"), mode),
    h("div", { class: "field" }, h("label", { for: "verify-account" }, "Wallet (for one wallet)"), account),
    h("p", {}, start), progress, progressText), report, history)
  await loadHistory()
}

const deadLettersPage = async (page) => {
  page.append(h("h1", {}, "Dead-lettered credits"),
    h("p", {}, "Credits this instance accepted during a store outage and could not apply when it came back. A retry runs the original command again with its original idempotency key: if it landed meanwhile, nothing moves twice."))
  const status = h("select", { id: "dead-status" }, ["OPEN", "RESOLVED", "ALL"].map((s) => h("option", { value: s }, s)))
  const list = h("div", { class: "card", id: "dead-letters" })
  const show = () => pager(list, (cursor) => get("/admin/dead-letters", { status: status.value, cursor, limit: 25 }), (items) =>
    dataTable("Dead letters, newest first", [
      ["queue id", (d) => h("span", { class: "mono" }, d.queueId)], ["op", (d) => d.op], ["account", (d) => d.accountId ?? "–"],
      ["amount", (d) => num(d.amount), { num: true }], ["refused with", (d) => `${d.error}: ${d.message}`], ["status", (d) => d.status],
      ["retries", (d) => d.retries.map((r) => `${r.outcome}${r.error ? ` ${r.error}` : ""}`).join(", ") || "–"],
      ["", (d) => d.status === "OPEN" ? h("button", { type: "button", "aria-label": `Retry ${d.queueId}`, onclick: async (e) => {
        e.target.disabled = true
        try {
          const r = (await call("POST", `/admin/dead-letters/${enc(d.queueId)}/retry`)).body
          announce(`Retry ${r.retry.outcome}`)
        } catch (err) {
          announce(err.message)
          alert(err.message)
        }
        await show()
      } }, "Retry") : ""]
    ], items, "No dead letters"))
  status.addEventListener("change", show)
  page.append(h("div", { class: "field" }, h("label", { for: "dead-status" }, "Show"), status), list)
  await show()
}

// ---- router and sign-in ----------------------------------------------------------------------
const ROUTES = {
  overview: (page) => overviewPage(page),
  accounts: (page, arg) => accountsPage(page, arg),
  tables: (page, arg) => tablesPage(page, arg),
  money: (page, arg) => moneyPage(page, arg),
  verify: (page) => verifyPage(page),
  "dead-letters": (page) => deadLettersPage(page)
}

const render = async () => {
  const page = document.getElementById("page")
  const signedIn = credential.get() !== null
  document.getElementById("sign-in").hidden = signedIn
  document.getElementById("nav").hidden = !signedIn
  document.getElementById("sign-out").hidden = !signedIn
  page.hidden = !signedIn
  if (!signedIn) {
    document.getElementById("credential").focus()
    return
  }
  const [name, arg] = location.hash.replace(/^#\/?/, "").split("/")
  const route = ROUTES[name] ? name : "overview"
  for (const a of document.querySelectorAll("#nav a")) {
    if (a.getAttribute("href") === `#/${route}`) a.setAttribute("aria-current", "page")
    else a.removeAttribute("aria-current")
  }
  fill(page)
  await ROUTES[route](page, arg === undefined ? undefined : decodeURIComponent(arg))
  document.title = `${page.querySelector("h1")?.textContent ?? "Admin"} · balance-service`
  // Focus moves to the new page (for screen readers), unless the page put it on its first field.
  if (!page.contains(document.activeElement)) document.getElementById("main").focus({ preventScroll: true })
}

const signOut = (message) => {
  credential.clear()
  document.getElementById("sign-in-error").textContent = message ?? ""
  render()
}

document.getElementById("sign-in-form").addEventListener("submit", async (e) => {
  e.preventDefault()
  const form = new FormData(e.target)
  const value = String(form.get("credential") ?? "").trim()
  credential.set({ kind: form.get("kind") === "jwt" ? "jwt" : "key", value })
  try {
    await get("/admin/overview")
  } catch (err) {
    if (err instanceof ApiError && err.status === 403) signOut("That credential is valid but not an admin's.")
    else if (!(err instanceof ApiError && err.status === 401)) signOut(err.message)
    return
  }
  document.getElementById("credential").value = ""
  document.getElementById("sign-in-error").textContent = ""
  if (!location.hash) location.hash = "#/overview"
  else render()
})
document.getElementById("sign-out").addEventListener("click", () => signOut("Signed out."))
window.addEventListener("hashchange", render)
render()

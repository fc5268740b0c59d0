import { randomUUID } from "node:crypto"
import { parseArgs } from "node:util"
import { type AdminClient, adminClient, ApiError, CliError, DEFAULT_API_URL, DEFAULT_TIMEOUT_SECONDS, resolveSettings } from "./adminClient.ts"
import { type Cell, fields, progressBar, table } from "./format.ts"

export const USAGE = `balance-admin: the balance-service admin CLI (talks to its HTTP API)

usage: balance-admin <command> [arguments] [--json] [--url URL] [--timeout S]

  overview                                 store, credit queue, dead letters, verification, archive
  accounts [--prefix P] [--limit N] [--cursor C]        wallets in id order
  balance <accountId>                      balance, held, available
  ledger <accountId> [--limit N] [--cursor SEQ]         hash-chained ledger entries
  transactions <accountId> [--limit N] [--cursor C]     transfers, newest first
  deposit <accountId> <amount> [--source PURCHASE] [--key K]   mint chips (prints the idempotency key)
  withdraw <accountId> <amount> [--reason R] [--key K]         burn chips
  verify [--account ID] [--incremental]    verification with a progress bar; exit 1 on findings
  supply                                   minted, burned, raked, circulation, held
  economy supply [--from T] [--to T] [--bucket hour|day]       supply and circulation over time
  economy flows|reservations [--from T] [--to T]
  economy rake|movers [--from T] [--to T] [--limit N]
  dead-letters [list] [--status OPEN|RESOLVED|ALL]             credits the queue could not apply
  dead-letters retry <queueId>             run one again with its original idempotency key
  archive                                  history store status

  --json      the API's JSON answer on stdout, for scripts (progress still goes to stderr)
  --url URL   the API (default: BALANCE_API_URL, else ${DEFAULT_API_URL})
  --timeout S seconds each request may wait for its answer (default ${DEFAULT_TIMEOUT_SECONDS})
  Times are ISO 8601 (2025-01-15T10:00:00Z). The admin key comes from ADMIN_API_KEY, else
  DATA_DIR/admin-api-key (DATA_DIR defaults to .data).
  Exit status: 0 done, 1 refused or failed (the API's error code is printed), 2 bad usage.`

interface Io {
  readonly out: (s: string) => void
  readonly err: (s: string) => void
  /** Whether stderr is a terminal: the progress bar redraws one line there, prints lines elsewhere. */
  readonly errIsTty: boolean
  readonly sleep: (ms: number) => Promise<void>
}

type Flags = Record<string, string | boolean | undefined>

const usage = (message: string) => new CliError(`${message}\n\n${USAGE}`, 2)

const arg = (positionals: ReadonlyArray<string>, i: number, name: string): string => {
  const v = positionals[i]
  if (v === undefined) throw usage(`missing <${name}>`)
  return v
}

const amountArg = (positionals: ReadonlyArray<string>, i: number): number => {
  const raw = arg(positionals, i, "amount")
  if (!/^[0-9]+$/.test(raw) || Number(raw) <= 0) {
    throw usage(`amount must be a whole number of chips greater than 0, not ${JSON.stringify(raw)}`)
  }
  if (!Number.isSafeInteger(Number(raw))) {
    throw usage(`amount must be at most ${Number.MAX_SAFE_INTEGER} chips, not ${JSON.stringify(raw)}`)
  }
  return Number(raw)
}

const str = (flags: Flags, name: string) => (typeof flags[name] === "string" ? (flags[name] as string) : undefined)
const enc = encodeURIComponent

const when = (iso: string | null | undefined) => (iso === null || iso === undefined ? "-" : iso.replace("T", " ").replace(/\.\d+Z$/, "Z"))

/** Runs one command; returns the exit status. */
export const run = async (argv: ReadonlyArray<string>, env: NodeJS.ProcessEnv, io: Io): Promise<number> => {
  let parsed
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        json: { type: "boolean" },
        url: { type: "string" },
        timeout: { type: "string" },
        help: { type: "boolean", short: "h" },
        limit: { type: "string" },
        cursor: { type: "string" },
        prefix: { type: "string" },
        from: { type: "string" },
        to: { type: "string" },
        bucket: { type: "string" },
        status: { type: "string" },
        source: { type: "string" },
        reason: { type: "string" },
        key: { type: "string" },
        account: { type: "string" },
        incremental: { type: "boolean" }
      }
    })
  } catch (e) {
    io.err(`balance-admin: ${(e as Error).message}\n\n${USAGE}`)
    return 2
  }
  const { values: flags, positionals } = parsed
  if (flags.help === true || positionals.length === 0) {
    ;(flags.help === true ? io.out : io.err)(USAGE)
    return flags.help === true ? 0 : 2
  }
  try {
    const client = adminClient(resolveSettings(env, flags.url, flags.timeout))
    const print = (json: unknown, human: () => string) => io.out(flags.json === true ? JSON.stringify(json, null, 2) : human())
    return await dispatch(positionals, flags, client, io, print)
  } catch (e) {
    if (e instanceof ApiError) {
      io.err(`balance-admin: ${e.message}${e.details === undefined ? "" : `\n${JSON.stringify(e.details)}`}`)
      if (flags.json === true) io.out(JSON.stringify({ error: e.code, message: e.message, status: e.status, details: e.details ?? null }, null, 2))
      return e.exitCode
    }
    if (e instanceof CliError) {
      io.err(`balance-admin: ${e.message}`)
      return e.exitCode
    }
    throw e
  }
}

const dispatch = async (
  positionals: ReadonlyArray<string>,
  flags: Flags,
  client: AdminClient,
  io: Io,
  print: (json: unknown, human: () => string) => void
): Promise<number> => {
  const [command, ...rest] = positionals
  switch (command) {
    case "overview": {
      const o = await client.get("/admin/overview")
      print(o, () =>
        fields([
          ["store", o.store.up ? `up (${o.store.latencyMs} ms)` : `DOWN: ${o.store.error}`],
          ["credit queue", o.creditQueue === null ? "none" : `${o.creditQueue.pending} pending, ${o.creditQueue.replayed} replayed, ${o.creditQueue.deadLettered} dead-lettered`],
          ["dead letters", `${o.deadLetters.open} open of ${o.deadLetters.total}`],
          ["last verification", o.verification.last === null ? "none yet" : `${o.verification.last.ok ? "ok" : `${o.verification.last.findings.length} findings`} at ${when(o.verification.last.finishedAt)}`],
          ["archive", `${o.archive?.state ?? "unknown"}: ${o.archive?.message ?? ""}`],
          ["circulation", o.supply?.circulation ?? null],
          ["zero sum", o.supply?.zeroSum ?? null]
        ]))
      return 0
    }
    case "accounts": {
      const page = await client.get("/admin/accounts", { prefix: str(flags, "prefix"), limit: str(flags, "limit"), cursor: str(flags, "cursor") })
      print(page, () =>
        table(["account", "balance", "held", "available", "created"], page.items.map((a: any): Array<Cell> => [a.accountId, a.balance, a.held, a.availableBalance, when(a.createdAt)])) +
        (page.nextCursor === null ? "" : `\nmore: --cursor ${page.nextCursor}`))
      return 0
    }
    case "balance": {
      const id = arg(rest, 0, "accountId")
      const b = await client.get(`/accounts/${enc(id)}/balance`)
      print(b, () => fields([["account", b.accountId], ["balance", b.balance], ["held", b.held], ["available", b.availableBalance], ["version", b.version], ...(b.stale ? [["stale", "yes: the store did not answer"] as const] : [])]))
      return 0
    }
    case "ledger": {
      const id = arg(rest, 0, "accountId")
      const page = await client.get(`/accounts/${enc(id)}/ledger`, { limit: str(flags, "limit"), cursor: str(flags, "cursor") })
      print(page, () =>
        table(["seq", "type", "amount", "balance", "held", "time", "transfer"], page.items.map((e: any): Array<Cell> => [e.seq, e.type, e.amount, e.balanceAfter, e.heldAfter, when(e.timestamp), e.transferId || "-"])) +
        (page.nextCursor === null ? "" : `\nmore: --cursor ${page.nextCursor}`))
      return 0
    }
    case "transactions": {
      const id = arg(rest, 0, "accountId")
      const page = await client.get(`/accounts/${enc(id)}/transactions`, { limit: str(flags, "limit"), cursor: str(flags, "cursor") })
      print(page, () =>
        table(["time", "type", "direction", "amount", "from", "to"], page.items.map((t: any): Array<Cell> => [when(t.timestamp), t.type, t.direction, t.amount, t.from, t.to])) +
        (page.nextCursor === null ? "" : `\nmore: --cursor ${page.nextCursor}`))
      return 0
    }
    case "deposit":
    case "withdraw": {
      const id = arg(rest, 0, "accountId")
      const amount = amountArg(rest, 1)
      // A generated key is printed first: if the answer is lost, running again with --key KEY cannot move chips twice.
      const key = str(flags, "key") ?? `cli-${command}-${randomUUID()}`
      if (str(flags, "key") === undefined) io.err(`idempotency key: ${key}`)
      const body = command === "deposit"
        ? { amount, source: str(flags, "source") ?? "ADMIN" }
        : { amount, ...(str(flags, "reason") === undefined ? {} : { reason: str(flags, "reason") }) }
      const reply = await client.post(`/accounts/${enc(id)}/${command}`, body, { "idempotency-key": key })
      const r = reply.body
      const replayed = reply.headers.get("idempotent-replayed") === "true"
      print({ ...r, idempotencyKey: key, replayed }, () =>
        reply.status === 202
          ? `queued (${r.queueId}): the store is down; it will be applied when it returns\nidempotency key  ${key}`
          : fields([["transaction", r.transactionId], ["balance", r.balance], ["available", r.availableBalance], ["idempotency key", key], ...(replayed ? [["replayed", "yes: this key was used before; nothing moved again"] as const] : [])]))
      return 0
    }
    case "verify":
      return verify(flags, client, io, print)
    case "supply": {
      const s = await client.get("/admin/supply")
      print(s, () =>
        fields([["minted", s.minted], ["burned", s.burned], ["raked", s.raked], ["circulation", s.circulation], ["held", s.held], ["zero sum", s.zeroSum], ["last verification", s.lastVerification === null ? "none" : `${s.lastVerification.ok ? "ok" : "FINDINGS"} at ${when(s.lastVerification.finishedAt)}`]]) +
        "\n\n" + table(["type", "chips moved"], Object.entries(s.byType).map(([t, v]): Array<Cell> => [t, v as number])))
      return 0
    }
    case "economy":
      return economy(rest, flags, client, print)
    case "dead-letters":
      return deadLetters(rest, flags, client, print)
    case "archive": {
      const a = await client.get("/admin/archive")
      print(a, () =>
        a.state === "NOT_CONFIGURED"
          ? `archive: NOT_CONFIGURED\n${a.message}`
          : fields([["state", a.state], ["database", a.database], ["lag (entries)", a.lagEntries], ["lag (s)", a.lagSeconds], ["archived entries", a.archivedEntries], ["archived transfers", a.archivedTransfers], ["last batch", when(a.lastBatchAt)], ["leader", a.leader === null ? "none" : `${a.leader.owner} (token ${a.leader.fencingToken})`], ["continuity stops", a.continuityStops.length], ["", a.message]]))
      return 0
    }
    default:
      throw usage(`unknown command ${JSON.stringify(command)}`)
  }
}

const verify = async (flags: Flags, client: AdminClient, io: Io, print: (json: unknown, human: () => string) => void) => {
  const account = str(flags, "account")
  const body = account !== undefined ? { accountId: account } : { mode: flags["incremental"] === true ? "incremental" : "full" }
  const started = (await client.post("/admin/ledger/verifications", body)).body
  let job = started
  let lastLine = ""
  for (;;) {
    const p = job.progress
    // A finished pass over an empty ledger is complete, not 0 %.
    const [done, total] = job.status === "DONE" && p.accountsTotal === 0 ? [1, 1] : [p.accountsChecked, p.accountsTotal]
    const line = progressBar(done, total, `${p.accountsChecked}/${p.accountsTotal} accounts, ${p.entriesChecked} entries, ${p.findingsCount} findings`)
    if (line !== lastLine) {
      if (io.errIsTty) io.err(`\r${line}`)
      else io.err(line)
      lastLine = line
    }
    if (job.status !== "RUNNING") break
    await io.sleep(200)
    job = await client.get(`/admin/ledger/verifications/${job.jobId}`)
  }
  if (io.errIsTty) io.err("\n")
  if (job.status === "FAILED") throw new CliError(`verification ${job.jobId} failed: ${job.error}`, 1)
  const r = job.report
  print(r, () =>
    fields([["result", r.ok ? "OK" : `${r.findings.length} FINDINGS`], ["mode", r.mode], ["accounts", r.accountsChecked], ["entries", r.entriesChecked], ["sum of balances", r.totalBalance], ["took", `${Date.parse(r.finishedAt) - Date.parse(r.startedAt)} ms`]]) +
    (r.findings.length === 0 ? "" : "\n\n" + table(["account", "seq", "kind", "detail"], r.findings.map((f: any): Array<Cell> => [f.account, f.seq, f.kind, f.detail]))))
  return r.ok ? 0 : 1
}

const economy = async (rest: ReadonlyArray<string>, flags: Flags, client: AdminClient, print: (json: unknown, human: () => string) => void) => {
  const report = arg(rest, 0, "report")
  const range = { from: str(flags, "from"), to: str(flags, "to") }
  const coverage = (c: any) => (c.complete ? "" : `\nnote: history before ${when(c.historyFrom)} is not available here; figures cover the rest`)
  switch (report) {
    case "supply": {
      const s = await client.get("/admin/economy/supply", { ...range, bucket: str(flags, "bucket") })
      print(s, () =>
        table(["start", "supply", "circulation", "minted", "burned", "raked", "moved"], s.points.map((p: any): Array<Cell> => [when(p.start) + (p.partial ? " (partial)" : ""), p.supply, p.circulation, p.minted, p.burned, p.raked, p.moved])) + coverage(s.coverage))
      return 0
    }
    case "flows": {
      const f = await client.get("/admin/economy/flows", range)
      print(f, () =>
        fields([["from", when(f.from)], ["to", when(f.to)], ["minted", f.minted], ["burned", f.burned], ["raked", f.raked], ["moved", f.moved], ["transfers", f.transfers]]) +
        "\n\n" + table(["type", "chips", "transfers"], Object.entries(f.byType).map(([t, v]: [string, any]): Array<Cell> => [t, v.chips, v.transfers])) + coverage(f.coverage))
      return 0
    }
    case "rake": {
      const r = await client.get("/admin/economy/rake", { ...range, limit: str(flags, "limit") })
      print(r, () => table(["table", "raked", "hands settled", "pot chips"], r.tables.map((t: any): Array<Cell> => [t.tableId, t.raked, t.handsSettled, t.potChips])) + `\ntotal raked: ${r.total}` + coverage(r.coverage))
      return 0
    }
    case "reservations": {
      const r = await client.get("/admin/economy/reservations", range)
      print(r, () =>
        fields([["created", r.created], ["committed", r.committed], ["released", r.released], ["expired", r.expired], ["expiry rate", r.expiryRate === null ? "-" : `${(r.expiryRate * 100).toFixed(1)} %`], ["chips held", r.chipsHeld], ["chips committed", r.chipsCommitted]]) + coverage(r.coverage))
      return 0
    }
    case "movers": {
      const m = await client.get("/admin/economy/movers", { ...range, limit: str(flags, "limit") })
      print(m, () => table(["account", "net", "credits", "debits", "entries"], m.items.map((i: any): Array<Cell> => [i.accountId, i.net, i.credits, i.debits, i.entries])) + coverage(m.coverage))
      return 0
    }
    default:
      throw usage(`unknown economy report ${JSON.stringify(report)} (supply, flows, rake, reservations, movers)`)
  }
}

const deadLetters = async (rest: ReadonlyArray<string>, flags: Flags, client: AdminClient, print: (json: unknown, human: () => string) => void) => {
  const sub = rest[0] ?? "list"
  if (sub === "list") {
    const page = await client.get("/admin/dead-letters", { status: str(flags, "status"), limit: str(flags, "limit"), cursor: str(flags, "cursor") })
    print(page, () =>
      table(["queue id", "op", "account", "amount", "error", "status", "dead-lettered"], page.items.map((d: any): Array<Cell> => [d.queueId, d.op, d.accountId, d.amount, d.error, d.status, when(d.deadLetteredAt)])) +
      `\n${page.open} open` + (page.nextCursor === null ? "" : `\nmore: --cursor ${page.nextCursor}`))
    return 0
  }
  if (sub === "retry") {
    const id = arg(rest, 1, "queueId")
    const r = (await client.post(`/admin/dead-letters/${enc(id)}/retry`)).body
    print(r, () => fields([["queue id", id], ["outcome", r.retry.outcome], ["status", r.deadLetter.status], ["result", JSON.stringify(r.retry.result ?? null)]]))
    return 0
  }
  throw usage(`unknown dead-letters command ${JSON.stringify(sub)} (list, retry)`)
}

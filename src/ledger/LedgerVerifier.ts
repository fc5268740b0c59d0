import { Clock, Context, Effect, Layer, Option } from "effect"
import { type AccountRef, type ChainedAccount, isClosedPot, SYSTEM_ACCOUNTS } from "../domain/accounts.ts"
import {
  CHAIN_START,
  type ChainCursor,
  type Finding,
  type VerificationMode,
  verifyAgainst,
  verifyEntries,
  verifyHead
} from "../domain/chainVerification.ts"
import { checkpointMac } from "../domain/headCheckpoint.ts"
import { HistoryStore, type HistoryUnavailable, type TransferDisagreement } from "../history/HistoryStore.ts"
import { type Page, Store } from "../store/Store.ts"
import { StoreUnavailable } from "../store/StoreErrors.ts"
import { Metrics } from "../observability/Metrics.ts"
import { LedgerSettings } from "./LedgerSettings.ts"

export interface VerificationReport {
  readonly mode: VerificationMode
  readonly startedAt: number
  readonly finishedAt: number
  readonly accountsChecked: number
  readonly entriesChecked: number
  /**
   * Σ of every balance, system accounts included; must be 0. Null for a
   * single-account check, and when chips kept moving during every attempt to
   * read a consistent snapshot (the check is then skipped, not failed).
   */
  readonly totalBalance: number | null
  readonly ok: boolean
  readonly findings: ReadonlyArray<Finding>
}

/** Where a pass stands, for an admin watching it run. */
export interface VerificationProgress {
  /** Accounts the pass will list (counted before it starts walking). */
  readonly accountsTotal: number
  readonly accountsChecked: number
  readonly entriesChecked: number
  /** The pass's own list, still growing: copy what you keep. */
  readonly findings: ReadonlyArray<Finding>
}

/** Told after every account a pass checks. */
export type ProgressListener = (progress: VerificationProgress) => Effect.Effect<void>

const PAGE = 1000

const entryKey = (account: string, transferId: string, amount: number) => `${account} ${transferId} ${amount}`

/** Findings about the archive's transfers one full pass reports at most, per check (each is one finding). */
const MAX_TRANSFER_FINDINGS = 100

/** The history store down, as the verifier's callers see any store down. */
const historyDown = (e: HistoryUnavailable) => new StoreUnavailable({ operation: `history.${e.operation}`, reason: e.reason })

/** How often one walk reads its account's head again after finding entries beyond it. */
const MAX_HEAD_READS = 3

/**
 * Clocks of other instances (which stamp `closedAt`) may run ahead of ours: a pot counts as
 * closed before a pass only if it closed this much earlier by its own stamp.
 */
const CLOCK_MARGIN_MS = 60_000

/**
 * Walks every chain (or one) and checks links, checksums, seq continuity,
 * balance continuity, heads, and the global zero sum. Remembers where each
 * clean chain ended so the incremental pass reads only new entries: it reads
 * the heads a page at a time and walks only the chains whose head moved, so
 * its cost follows what changed, not how many accounts there are; its memory
 * holds no cursor for settled or cancelled pots. What only the full pass sees:
 * an old entry edited or removed, and an entry appended behind the service's
 * back without touching its account's head.
 */
export class LedgerVerifier extends Context.Service<LedgerVerifier, {
  readonly verifyAll: (onProgress?: ProgressListener) => Effect.Effect<VerificationReport, StoreUnavailable>
  readonly verifyIncremental: (onProgress?: ProgressListener) => Effect.Effect<VerificationReport, StoreUnavailable>
  readonly verifyAccount: (account: AccountRef) => Effect.Effect<VerificationReport, StoreUnavailable>
  readonly lastReport: () => Effect.Effect<VerificationReport | null>
}>()("balance/LedgerVerifier") {
  static readonly layer = Layer.effect(LedgerVerifier, Effect.gen(function*() {
    const store = yield* Store
    const history = Option.filter(yield* Effect.serviceOption(HistoryStore), (h) => h.enabled)
    const { hmacKey } = yield* LedgerSettings
    const metrics = yield* Metrics
    /**
     * Where each clean chain ended, for the incremental pass. Final pots (one per hand ever played)
     * are not kept once walked clean: see `closedBeforeLastPass`.
     */
    const verifiedUpTo = new Map<AccountRef, ChainCursor>()
    /** When the last pass that listed every account began (it ran to the end). */
    let lastCompletePassStart: number | undefined
    let last: VerificationReport | null = null

    interface Walked {
      readonly findings: ReadonlyArray<Finding>
      readonly entriesChecked: number
    }

    const readHead = (account: AccountRef) =>
      Effect.map(store.load([account]), (s) => (s.objects.get(account)?.value ?? null) as ChainedAccount | null)

    /**
     * The chain against what the history store saw of it (when there is one): its latest head
     * checkpoint and the archive's last entry. Reads the chain's entry at each of those seqs.
     */
    const checkpointFindings = Effect.fn("LedgerVerifier.checkpointFindings")(function*(account: AccountRef, end: ChainCursor) {
      if (Option.isNone(history)) return []
      const h = history.value
      const [checkpoint, archived] = yield* Effect.all([h.latestCheckpoint(account), h.heads([account])]).pipe(
        Effect.mapError(historyDown)
      )
      const entryAt = (seq: number) =>
        seq <= end.seq ? Effect.map(store.entries(account, seq - 1, 1), (es) => es[0]) : Effect.succeed(undefined)
      const findings: Array<Finding> = []
      const archivedHead = archived.get(account)
      if (archivedHead !== undefined) {
        findings.push(...verifyAgainst(account, end, { ...archivedHead, balance: archivedHead.balance }, yield* entryAt(archivedHead.seq), "the archive's last entry"))
      }
      if (checkpoint !== null) {
        const expected = checkpointMac(checkpoint, hmacKey)
        findings.push(...verifyAgainst(
          account,
          end,
          checkpoint,
          yield* entryAt(checkpoint.seq),
          `the head checkpoint of ${new Date(checkpoint.takenAt).toISOString()}`,
          expected === null || expected === checkpoint.mac
        ))
      }
      return findings
    })

    /**
     * Walks `account`'s chain from `from` up to its head. The head is read first (`knownHead`: read
     * just before, with a page of heads): the entries up to its seq were written with it, so they
     * are all there when the chain is read after it, whatever lands meanwhile. Entries beyond it
     * make the head be read again: moved, the walk goes on to the new head; not moved, they were
     * appended behind the service's back and the head check reports the chain running past it.
     * (Was: entries first, head after, up to three times when they disagreed: under steady writes to
     * one wallet by two instances, every attempt raced and reported HEAD_MISMATCH.)
     */
    const walk = Effect.fn("LedgerVerifier.account")(function*(
      account: AccountRef,
      from: ChainCursor,
      knownHead?: ChainedAccount | null
    ) {
      let head = knownHead !== undefined ? knownHead : yield* readHead(account)
      let boundedByHead = true
      let headReads = 0
      const findings: Array<Finding> = []
      let cursor = from
      let entriesChecked = 0
      for (;;) {
        const page = yield* store.entries(account, cursor.seq, PAGE)
        const due = boundedByHead ? Math.min(page.length, Math.max(0, (head?.seq ?? 0) - cursor.seq)) : page.length
        const result = verifyEntries(account, cursor, due === page.length ? page : page.slice(0, due), hmacKey)
        findings.push(...result.findings)
        entriesChecked += due
        cursor = result.cursor
        if (due < page.length) {
          // A chain written to all the time would be chased for ever: past a few head reads, what lies
          // beyond the last head read is left to the next pass.
          if (headReads++ >= MAX_HEAD_READS) break
          const again = yield* readHead(account)
          if (again !== null && again.seq > (head?.seq ?? 0)) head = again
          else boundedByHead = false
          continue
        }
        if (page.length < PAGE) break
      }
      findings.push(...verifyHead(account, head, cursor))
      findings.push(...(yield* checkpointFindings(account, cursor)))
      if (findings.length === 0 && !isClosedPot(head)) verifiedUpTo.set(account, cursor)
      else verifiedUpTo.delete(account)
      const walked: Walked = { findings, entriesChecked }
      return walked
    })

    /**
     * The entries Redis holds past each account's archived head (not archived yet), as
     * entryKey(account, transfer, amount): where an archived transfer's missing entry may still be.
     */
    const entriesAfterArchivedHeads = Effect.fn("LedgerVerifier.entriesAfterArchivedHeads")(function*(
      h: HistoryStore["Service"],
      missing: ReadonlyArray<TransferDisagreement>
    ) {
      const found = new Set<string>()
      if (missing.length === 0) return found
      const accounts = [...new Set(missing.map((d) => d.account))]
      const heads = yield* h.heads(accounts).pipe(Effect.mapError(historyDown))
      for (const account of accounts) {
        let after = heads.get(account)?.seq ?? 0
        for (;;) {
          const { entries } = yield* store.entryPage(account, after, PAGE)
          for (const e of entries) found.add(entryKey(account, e.transferId, e.amount))
          if (entries.length < PAGE) break
          after = entries[entries.length - 1]!.seq
        }
      }
      return found
    })

    /** Every item of a paged listing, a page at a time. */
    const forEachPage = Effect.fn("LedgerVerifier.forEachPage")(function*(
      list: (cursor: string | null) => Effect.Effect<Page<AccountRef>, StoreUnavailable>,
      f: (items: ReadonlyArray<AccountRef>) => Effect.Effect<void, StoreUnavailable>
    ) {
      let cursor: string | null = null
      do {
        const page: Page<AccountRef> = yield* list(cursor)
        yield* f(page.items)
        cursor = page.nextCursor
      } while (cursor !== null)
    })
    const liveAccounts = (cursor: string | null) => store.accounts(cursor, PAGE)
    /**
     * Pots retired from Redis (Archiver.retire): Redis lists them nowhere any more; their heads and
     * chains are the archive's (read through the tiered store), checked like any other.
     */
    const retiredPots = (cursor: string | null): Effect.Effect<Page<AccountRef>, StoreUnavailable> =>
      Option.isNone(history)
        ? Effect.succeed({ items: [], nextCursor: null })
        : history.value.retiredPots(cursor, PAGE).pipe(
          Effect.mapError(historyDown)
        )
    const closedSince = (since: number) => (cursor: string | null) => store.closedAccounts(since, cursor, PAGE)

    /**
     * Σ of all balances at one instant (closed pots too when `withClosed`: they hold 0 unless
     * tampered with). Heads are read in batches, so the read is bracketed by the `transfers`
     * counter that every chip-moving apply increments atomically with the balances: unchanged
     * means no chip moved while reading, so the figures are a consistent snapshot. Under
     * continuous load a few attempts may all be disturbed: then null.
     */
    const snapshotTotal = Effect.fn("LedgerVerifier.snapshotTotal")(function*(withClosed: boolean) {
      for (let attempt = 0; attempt < 5; attempt++) {
        const before = (yield* store.stats()).transfers ?? 0
        let total = 0
        const add = (items: ReadonlyArray<AccountRef>) =>
          Effect.map(store.load(items), (snapshot) => {
            for (const v of snapshot.objects.values()) total += (v.value as ChainedAccount | null)?.balance ?? 0
          })
        // Listed inside the bracket: an account created meanwhile (a new pot) counts too.
        yield* forEachPage(liveAccounts, add)
        if (withClosed) yield* forEachPage(closedSince(-Infinity), add)
        const system = yield* store.systemBalances()
        for (const s of SYSTEM_ACCOUNTS) total += system[s]
        const after = (yield* store.stats()).transfers ?? 0
        if (before === after) return total
      }
      return null
    })

    /** When this verifier started: the first incremental pass reads the pots closed since a little before. */
    const verifierStartedAt = yield* Clock.currentTimeMillis

    /**
     * A pot that was already final (and empty) when the last complete pass began was walked in its
     * final state by that pass or an earlier one: nothing left to read. Findings it had were
     * reported then, and the full pass reports them again. (Pots closed before the closed index
     * existed are still in the live one: this skips them there.)
     */
    const closedBeforeLastPass = (head: ChainedAccount | null): boolean =>
      isClosedPot(head) && head.balance === 0 && lastCompletePassStart !== undefined &&
      head.closedAt !== undefined && head.closedAt < lastCompletePassStart - CLOCK_MARGIN_MS

    const pass = Effect.fn("LedgerVerifier.pass")(function*(mode: "full" | "incremental", onProgress?: ProgressListener) {
      const passStart = yield* Clock.currentTimeMillis
      const findings: Array<Finding> = []
      let accountsChecked = 0
      let entriesChecked = 0
      // Closed pots: all of them in a full pass; in an incremental one, those that closed since the
      // last complete pass began (or since this verifier started), so their last entries are walked once.
      const since = mode === "full" ? -Infinity : (lastCompletePassStart ?? verifierStartedAt) - CLOCK_MARGIN_MS
      // Only someone watching needs the total: one listing more, of keys only.
      let accountsTotal = 0
      if (onProgress !== undefined) {
        const count = (items: ReadonlyArray<AccountRef>) => Effect.sync(() => void (accountsTotal += items.length))
        yield* forEachPage(liveAccounts, count)
        yield* forEachPage(closedSince(since), count)
        if (mode === "full") yield* forEachPage(retiredPots, count)
      }
      const checked = (n: number) =>
        Effect.suspend(() => {
          accountsChecked += n
          // Accounts created while the pass runs are checked too: the total grows with them.
          accountsTotal = Math.max(accountsTotal, accountsChecked)
          return onProgress === undefined ? Effect.void : onProgress({ accountsTotal, accountsChecked, entriesChecked, findings })
        })
      const walkEach = Effect.fn("LedgerVerifier.walkEach")(function*(items: ReadonlyArray<AccountRef>) {
        if (mode === "full") {
          for (const account of items) {
            const r = yield* walk(account, CHAIN_START)
            findings.push(...r.findings)
            entriesChecked += r.entriesChecked
            yield* checked(1)
          }
          return
        }
        // The heads of a whole page in one read. A chain whose head is still where it was verified
        // to end has nothing new (the head is checked all the same); a moved one is walked from there.
        const heads = (yield* store.load(items)).objects
        for (const account of items) {
          const verified = verifiedUpTo.get(account)
          const head = (heads.get(account)?.value ?? null) as ChainedAccount | null
          const unchanged = verified !== undefined && head !== null && head.seq === verified.seq &&
            verifyHead(account, head, verified).length === 0
          if (unchanged || closedBeforeLastPass(head)) {
            yield* checked(1)
            continue
          }
          const r = yield* walk(account, verified ?? CHAIN_START, head)
          findings.push(...r.findings)
          entriesChecked += r.entriesChecked
          yield* checked(1)
        }
      })
      // Live accounts first: a pot that closes meanwhile is then found in the closed index.
      yield* forEachPage(liveAccounts, walkEach)
      yield* forEachPage(closedSince(since), walkEach)
      // Retired pots closed at least CLOSED_RETENTION_MS before: incremental passes walked them as they closed
      // (with the 24 h default), and the archiver checked their chains' continuity when it archived them.
      if (mode === "full") yield* forEachPage(retiredPots, walkEach)
      // The archive's transfers, which no chain signs: against the positions that name them (one gone
      // would make a history page skip it without a word) and the entries they made (one edited).
      if (mode === "full" && Option.isSome(history)) {
        for (const p of yield* history.value.positionsWithoutTransfer(MAX_TRANSFER_FINDINGS).pipe(Effect.mapError(historyDown))) {
          findings.push({
            account: p.account,
            seq: null,
            kind: "TRANSFER_MISSING",
            detail: `its transfer at position ${p.idx} (${p.transferId}) is not in the archive`
          })
        }
        const disagreeing = yield* history.value.transfersDisagreeingWithEntries(MAX_TRANSFER_FINDINGS).pipe(Effect.mapError(historyDown))
        const inRedis = yield* entriesAfterArchivedHeads(history.value, disagreeing.filter((d) => d.recorded === null))
        for (const d of disagreeing) {
          // Archived with its transfer while its account's archiving was stopped, the stop since cleared: the
          // entry is still in Redis, past the archived head, and is archived with the account's next write.
          if (d.recorded === null && inRedis.has(entryKey(d.account, d.transferId, d.expected))) continue
          findings.push({
            account: d.account,
            seq: null,
            kind: "TRANSFER_MISMATCH",
            detail: `the archive's transfer ${d.transferId} moves ${d.expected} here, ${d.recorded === null ? "but no entry names it" : `its entry ${d.recorded}`}`
          })
        }
      }
      lastCompletePassStart = passStart
      const total = yield* snapshotTotal(mode === "full")
      if (total !== null && total !== 0) {
        findings.push({ account: "*", seq: null, kind: "ZERO_SUM_VIOLATION", detail: `all balances sum to ${total}, not 0` })
      }
      const report: VerificationReport = {
        mode,
        startedAt: passStart,
        finishedAt: yield* Clock.currentTimeMillis,
        accountsChecked,
        entriesChecked,
        totalBalance: total,
        ok: findings.length === 0,
        findings
      }
      last = report
      return report
    })

    /**
     * Every pass, scheduled or asked for over the admin API, ends the same way: counted by mode and
     * result, each finding a metric and an Error line (what the alerts and the runbook rely on).
     */
    const reported = Effect.fn("LedgerVerifier.reported")(function*(report: VerificationReport) {
      metrics.verificationRuns.inc({ mode: report.mode, result: report.ok ? "ok" : "findings" })
      for (const f of report.findings) metrics.verificationFindings.inc({ kind: f.kind })
      if (report.ok && report.mode !== "account") metrics.lastVerificationSuccess.set(report.finishedAt / 1000)
      if (report.ok) {
        yield* Effect.logDebug("ledger verification passed").pipe(
          Effect.annotateLogs({ mode: report.mode, accounts: report.accountsChecked, entries: report.entriesChecked })
        )
      }
      for (const f of report.findings) {
        yield* Effect.logError("ledger verification finding").pipe(
          Effect.annotateLogs({ mode: report.mode, account: f.account, seq: f.seq, kind: f.kind, detail: f.detail })
        )
      }
      return report
    })

    return LedgerVerifier.of({
      verifyAll: Effect.fn("LedgerVerifier.verifyAll")((onProgress?: ProgressListener) =>
        Effect.flatMap(pass("full", onProgress), reported)),
      verifyIncremental: Effect.fn("LedgerVerifier.verifyIncremental")((onProgress?: ProgressListener) =>
        Effect.flatMap(pass("incremental", onProgress), reported)),
      verifyAccount: Effect.fn("LedgerVerifier.verifyAccount")(function*(account: AccountRef) {
        const startedAt = yield* Clock.currentTimeMillis
        const r = yield* walk(account, CHAIN_START)
        return yield* reported({
          mode: "account",
          startedAt,
          finishedAt: yield* Clock.currentTimeMillis,
          accountsChecked: 1,
          entriesChecked: r.entriesChecked,
          totalBalance: null,
          ok: r.findings.length === 0,
          findings: r.findings
        })
      }),
      lastReport: () => Effect.sync(() => last)
    })
  }))
}

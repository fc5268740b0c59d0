/** Polling with a deadline: the chaos tests wait for conditions, never for fixed times. */

/** An error that ends a poll at once (e.g. the service it polls has died): waiting longer cannot help. */
export class PollAborted extends Error {}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/**
 * Calls `probe` until it returns something other than undefined (that value is
 * returned) or `timeoutMs` passes (then it throws, naming `what` and the last
 * error the probe threw, if any).
 */
export const pollUntil = async <A>(
  what: string,
  probe: () => Promise<A | undefined> | A | undefined,
  options: { readonly timeoutMs: number; readonly intervalMs?: number }
): Promise<A> => {
  const deadline = Date.now() + options.timeoutMs
  let lastError: unknown
  for (;;) {
    try {
      const value = await probe()
      if (value !== undefined) return value
    } catch (e) {
      if (e instanceof PollAborted) throw e
      lastError = e
    }
    if (Date.now() > deadline) {
      const why = lastError === undefined ? "" : ` (last error: ${lastError instanceof Error ? lastError.message : String(lastError)})`
      throw new Error(`timed out after ${options.timeoutMs} ms waiting for ${what}${why}`)
    }
    await sleep(options.intervalMs ?? 100)
  }
}

/** Runs `tasks` with at most `limit` in flight; results in input order. */
export const mapLimit = async <A, B>(items: ReadonlyArray<A>, limit: number, f: (a: A, i: number) => Promise<B>): Promise<Array<B>> => {
  const out: Array<B> = new Array(items.length)
  let next = 0
  const worker = async () => {
    for (;;) {
      const i = next++
      if (i >= items.length) return
      out[i] = await f(items[i]!, i)
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  return out
}

/** The q-quantile (0..1) of `values`, nearest-rank. */
export const quantile = (values: ReadonlyArray<number>, q: number): number => {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const rank = Math.max(1, Math.ceil(q * sorted.length))
  return sorted[rank - 1]!
}

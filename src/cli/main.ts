import { run } from "./balanceAdmin.ts"

/** `balance-admin` (bin/balance-admin.js loads the compiled form of this file). */
run(process.argv.slice(2), process.env, {
  out: (s) => void process.stdout.write(`${s}\n`),
  err: (s) => void process.stderr.write(s.startsWith("\r") ? s : `${s}\n`),
  errIsTty: process.stderr.isTTY === true,
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms))
}).then(
  (code) => {
    process.exitCode = code
  },
  (e: unknown) => {
    process.stderr.write(`balance-admin: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`)
    process.exitCode = 1
  }
)

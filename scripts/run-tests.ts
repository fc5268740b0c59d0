/**
 * `npm test`: runs the whole vitest suite, then prints the closing line
 * `N passed, M failed` that CI reads, and exits with vitest's status.
 * Extra arguments go to vitest (e.g. `npm test -- test/domain`).
 */
import { spawnSync } from "node:child_process"
import { existsSync, readFileSync, rmSync } from "node:fs"

const report = ".vitest-report.json"
rmSync(report, { force: true })
const result = spawnSync(
  "npx",
  ["vitest", "run", "--reporter=default", "--reporter=json", `--outputFile=${report}`, ...process.argv.slice(2)],
  { stdio: "inherit" }
)
let passed = 0
let failed = 0
if (existsSync(report)) {
  const r = JSON.parse(readFileSync(report, "utf8")) as { numPassedTests: number; numFailedTests: number }
  passed = r.numPassedTests
  failed = r.numFailedTests
} else {
  failed = 1
}
console.log(`${passed} passed, ${failed} failed`)
process.exit(result.status ?? 1)

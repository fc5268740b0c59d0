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
  const r = JSON.parse(readFileSync(report, "utf8")) as {
    numPassedTests: number
    numFailedTests: number
    testResults: ReadonlyArray<{ status: string; assertionResults: ReadonlyArray<{ status: string }> }>
  }
  passed = r.numPassedTests
  // A file that failed before its tests could fail (a beforeAll or layer that threw: its tests are
  // reported skipped) counts each of those tests as failed, or 1 if it had none: never a green line.
  const failedFiles = r.testResults.filter((file) => file.status === "failed" && !file.assertionResults.some((t) => t.status === "failed"))
  failed = r.numFailedTests + failedFiles.reduce((n, file) => n + Math.max(1, file.assertionResults.filter((t) => t.status !== "passed").length), 0)
} else {
  failed = 1
}
console.log(`${passed} passed, ${failed} failed`)
process.exit(result.status ?? 1)

#!/usr/bin/env node
// The admin CLI, compiled by `npm run build` to dist/cli/. Plain JavaScript with no dependency, so it
// runs on the Node that npx finds (the service itself needs Node 24; this does not).
import { existsSync } from "node:fs"
import { fileURLToPath } from "node:url"

const compiled = new URL("../dist/cli/main.js", import.meta.url)
if (!existsSync(fileURLToPath(compiled))) {
  process.stderr.write("balance-admin: dist/cli/main.js is missing; run `npm run build` first\n")
  process.exit(2)
}
await import(compiled.href)

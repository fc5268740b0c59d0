/** `npm run build` step: tsc emits only JavaScript; the Lua scripts ship next to the compiled store. */
import { copyFileSync, mkdirSync, readdirSync } from "node:fs"

const from = "src/store/redis"
const to = "dist/store/redis"
mkdirSync(to, { recursive: true })
for (const file of readdirSync(from).filter((f) => f.endsWith(".lua"))) copyFileSync(`${from}/${file}`, `${to}/${file}`)

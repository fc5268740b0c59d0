/** `npm run build` step: tsc emits only JavaScript; the Lua scripts and the console's assets ship next to the compiled code. */
import { copyFileSync, mkdirSync, readdirSync } from "node:fs"

const copy = (from: string, to: string, keep: (file: string) => boolean) => {
  mkdirSync(to, { recursive: true })
  for (const file of readdirSync(from).filter(keep)) copyFileSync(`${from}/${file}`, `${to}/${file}`)
}
copy("src/store/redis", "dist/store/redis", (f) => f.endsWith(".lua"))
copy("src/console/assets", "dist/console/assets", () => true)

import { readFileSync } from "node:fs"

/**
 * The service's version: package.json's, read once. The same relative path
 * holds from src/ (dev) and dist/ (build), and the image ships
 * package.json next to dist/.
 */
export const SERVICE_VERSION: string = (
  JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }
).version

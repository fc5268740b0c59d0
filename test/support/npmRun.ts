import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"

const ROOT = fileURLToPath(new URL("../../", import.meta.url))

/**
 * `npm run -s <script> -- <args>` from the repository, as the README documents the commands,
 * with nothing of the developer's environment but PATH and HOME, plus `env`.
 */
export const npmRun = (script: string, args: ReadonlyArray<string>, env: Readonly<Record<string, string>>) =>
  new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn("npm", ["run", "-s", script, "--", ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    child.stdout!.on("data", (c: Buffer) => stdout += c.toString())
    child.stderr!.on("data", (c: Buffer) => stderr += c.toString())
    child.once("exit", (code) => resolve({ code, stdout, stderr }))
  })

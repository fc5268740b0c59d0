import { execFileSync } from "node:child_process"
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

/** Whether `openssl` is on the PATH (TLS tests are skipped without it). */
export const hasOpenssl = (() => {
  try {
    execFileSync("openssl", ["version"], { stdio: "ignore" })
    return true
  } catch {
    return false
  }
})()

/** A throwaway CA, a server certificate for 127.0.0.1 / localhost and a client certificate, all signed by it. */
export const makeCertificates = () => {
  const dir = mkdtempSync(join(tmpdir(), "balance-tls-certs-"))
  const f = (name: string) => join(dir, name)
  const ssl = (...args: Array<string>) => execFileSync("openssl", args, { stdio: "ignore" })
  ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f("ca.key"), "-out", f("ca.pem"), "-days", "1", "-subj", "/CN=test-ca")
  writeFileSync(f("san.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n")
  for (const [name, ext] of [["server", true], ["client", false]] as const) {
    ssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f(`${name}.key`), "-out", f(`${name}.csr`), "-subj", `/CN=${name}`)
    ssl("x509", "-req", "-in", f(`${name}.csr`), "-CA", f("ca.pem"), "-CAkey", f("ca.key"), "-CAcreateserial", "-out", f(`${name}.pem`),
      "-days", "1", ...(ext ? ["-extfile", f("san.ext")] : []))
  }
  return { dir, f, read: (name: string) => readFileSync(f(name)) }
}

import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { exportJWK, generateKeyPair, type JWK, SignJWT } from "jose"

export interface SigningKey {
  readonly kid: string
  readonly alg: "RS256" | "ES256"
  readonly sign: (claims: Record<string, unknown>, subject: string) => Promise<string>
  readonly jwk: JWK
}

export const makeSigningKey = async (kid: string, alg: "RS256" | "ES256"): Promise<SigningKey> => {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true })
  const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: "sig" }
  return {
    kid,
    alg,
    jwk,
    sign: (claims, subject) =>
      new SignJWT(claims).setProtectedHeader({ alg, kid }).setSubject(subject).setIssuedAt().setExpirationTime("5m").sign(privateKey)
  }
}

/** A JWKS endpoint on a free local port whose key set the test swaps at will; counts fetches. */
export const startJwksServer = async (initial: ReadonlyArray<SigningKey>) => {
  let keys = initial
  let fetches = 0
  const server: Server = createServer((_request, response) => {
    fetches += 1
    response.writeHead(200, { "content-type": "application/json" })
    response.end(JSON.stringify({ keys: keys.map((k) => k.jwk) }))
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    serve: (next: ReadonlyArray<SigningKey>) => void (keys = next),
    fetches: () => fetches,
    close: () => new Promise<void>((resolve) => server.close(() => resolve()))
  }
}

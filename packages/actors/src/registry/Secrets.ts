// Site passwords (scrypt, salted, constant-time verify) and API tokens (random, stored as SHA-256).

import { createHash, randomBytes, scrypt, timingSafeEqual } from "node:crypto"
import { Effect } from "effect"

const SCRYPT = { N: 16384, r: 8, p: 1, keyLength: 32 } as const

const derive = (password: string, salt: Buffer, N: number, r: number, p: number, keyLength: number) =>
  Effect.callback<Buffer>((resume) => {
    scrypt(password, salt, keyLength, { N, r, p, maxmem: 64 * 1024 * 1024 }, (error, key) => {
      resume(error ? Effect.die(error) : Effect.succeed(key))
    })
  })

/** `scrypt$N$r$p$salt$hash` with base64 salt and hash. */
export const hashPassword = (password: string) =>
  Effect.gen(function* () {
    const salt = randomBytes(16)
    const key = yield* derive(password, salt, SCRYPT.N, SCRYPT.r, SCRYPT.p, SCRYPT.keyLength)
    return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString("base64")}$${key.toString("base64")}`
  })

export const verifyPassword = (password: string, stored: string) =>
  Effect.gen(function* () {
    const [scheme, n, r, p, salt, hash] = stored.split("$")
    if (scheme !== "scrypt" || hash === undefined || salt === undefined) return false
    const expected = Buffer.from(hash, "base64")
    const key = yield* derive(password, Buffer.from(salt, "base64"), Number(n), Number(r), Number(p), expected.length)
    return timingSafeEqual(key, expected)
  })

export const newApiToken = (): string => `mm_${randomBytes(32).toString("base64url")}`

export const tokenSha256 = (token: string): string => createHash("sha256").update(token, "utf8").digest("hex")

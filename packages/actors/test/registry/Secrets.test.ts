import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { hashPassword, newApiToken, tokenSha256, verifyPassword } from "../../src/registry/Secrets.ts"

describe("site passwords", () => {
  it.effect("are stored as salted scrypt hashes and verified", () =>
    Effect.gen(function* () {
      const a = yield* hashPassword("correct horse battery")
      const b = yield* hashPassword("correct horse battery")
      assert.match(a, /^scrypt\$16384\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/)
      assert.notStrictEqual(a, b, "each hash has its own salt")
      assert.notInclude(a, "correct horse")
      assert.isTrue(yield* verifyPassword("correct horse battery", a))
      assert.isFalse(yield* verifyPassword("correct horse batterY", a))
      assert.isFalse(yield* verifyPassword("anything", "plaintext-from-upstream"))
    })
  )
})

describe("API tokens", () => {
  it("are random and stored as SHA-256", () => {
    const token = newApiToken()
    assert.match(token, /^mm_[A-Za-z0-9_-]{43}$/)
    assert.notStrictEqual(token, newApiToken())
    assert.match(tokenSha256(token), /^[0-9a-f]{64}$/)
    assert.strictEqual(tokenSha256(token), tokenSha256(token))
  })
})

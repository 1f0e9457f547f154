import { assert, describe, it } from "@effect/vitest"
import { parseMirrorUrl } from "../../src/registry/MirrorUrl.ts"

describe("parseMirrorUrl", () => {
  it("strips trailing slashes and lower-cases scheme and host", () => {
    assert.deepStrictEqual(parseMirrorUrl("HTTPS://Mirror.Example.ORG/pub/fedora/linux//"), {
      ok: true,
      url: "https://mirror.example.org/pub/fedora/linux",
      scheme: "https"
    })
    assert.deepStrictEqual(parseMirrorUrl("rsync://mirror.example.org/fedora/"), {
      ok: true,
      url: "rsync://mirror.example.org/fedora",
      scheme: "rsync"
    })
  })

  it("keeps a port", () => {
    const parsed = parseMirrorUrl("http://mirror.example.org:8080/fedora")
    assert.isTrue(parsed.ok && parsed.url === "http://mirror.example.org:8080/fedora")
  })

  it("rejects other schemes, credentials, queries and fragments", () => {
    for (const bad of [
      "mirror.example.org/fedora",
      "gopher://mirror.example.org/",
      "https://user:pw@mirror.example.org/",
      "https://mirror.example.org/?a=1",
      "https://mirror.example.org/#x"
    ]) {
      assert.isFalse(parseMirrorUrl(bad).ok, bad)
    }
  })
})

// Validation and normalisation of a host category's base URL (no trailing "/", no query, fragment or credentials).
export const MirrorUrlSchemes = ["https", "http", "ftp", "rsync"] as const
export type MirrorUrlScheme = (typeof MirrorUrlSchemes)[number]

export type MirrorUrlResult =
  | { readonly ok: true; readonly url: string; readonly scheme: MirrorUrlScheme }
  | { readonly ok: false; readonly error: string }

const fail = (error: string): MirrorUrlResult => ({ ok: false, error })

export const parseMirrorUrl = (input: string): MirrorUrlResult => {
  const text = input.trim()
  if (text.length > 2048) return fail("URL is longer than 2048 characters")
  let url: URL
  try {
    url = new URL(text)
  } catch {
    return fail(`"${input}" is not an absolute URL`)
  }
  const scheme = url.protocol.slice(0, -1)
  if (!(MirrorUrlSchemes as ReadonlyArray<string>).includes(scheme)) {
    return fail(`URL scheme "${scheme}" is not one of ${MirrorUrlSchemes.join(", ")}`)
  }
  if (url.hostname.length === 0) return fail("URL has no host")
  if (url.username !== "" || url.password !== "") return fail("URL must not contain credentials")
  if (text.includes("?")) return fail("URL must not contain a query")
  if (text.includes("#")) return fail("URL must not contain a fragment")
  const path = url.pathname.replace(/\/+$/, "")
  const normalized = `${scheme}://${url.host}${path}`
  if (normalized.length > 2048) return fail("URL is longer than 2048 characters once percent-encoded")
  return { ok: true, url: normalized, scheme: scheme as MirrorUrlScheme }
}

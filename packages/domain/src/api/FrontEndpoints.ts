// What a node answers besides the admin HttpApi, as OpenAPI 3.1 path items: the redirector (`/mirrorlist`,
// `/metalink`, `/download/…`) and `/metrics`, which the front server answers itself, and the XML-RPC check-in. They
// are merged into the admin API's document (see `completeDocument`), so that `/openapi.json` and `/docs` describe
// everything a node serves. Written by hand: these answers are plain text, XML and redirects, not JSON schemas.

import { pagePaths, pagesTag } from "./PublicPages.ts"

type Json = Record<string, unknown>

const text = (description: string): Json => ({ type: "string", description })

const query = (name: string, description: string, schema: Json = { type: "string" }): Json => ({
  name,
  in: "query",
  required: false,
  description,
  schema
})

const REPO = query(
  "repo",
  "Repository name (its prefix, e.g. `epel-9`), together with `arch`. A repository redirect's old name is followed to its target; a name containing `source` always means arch `source`. `path` wins when both are given."
)
const ARCH = query("arch", "Architecture of `repo`, e.g. `x86_64`.")
const PATH = (what: string) =>
  query(
    "path",
    `A directory of the master tree as the scans name it (see \`/api/directories\`), e.g. \`pub/epel/9/Everything/x86_64\`, ${what}. Used instead of \`repo\` and \`arch\`; \`.\` and \`..\` segments are refused.`
  )
const COUNTRY = query(
  "country",
  "Comma-separated ISO 3166 two-letter country codes (at most 32), or `global`, in place of the client's own location: only mirrors in these countries (`global`: every public mirror), without netblock, ASN or R&E matching. When none of them has a mirror, those of the other countries of their continents; when those have none either, the answer is as without `country`.",
  { type: "string", examples: ["DE", "SE,NO", "global"] }
)
const CC = query("cc", "Another name of `country` (used when `country` is absent).")
const PROTOCOL = query(
  "protocol",
  "Comma-separated URL schemes to list: `https`, `http`, `ftp`, `rsync` (default: `https,http,ftp`; redirects use https and http only). When no mirror offers them the answer says so instead of falling back.",
  { type: "string", examples: ["https", "https,http"] }
)
const NETBLOCK = query(
  "netblock",
  "`1` (default): hosts whose netblocks contain the client come first, then hosts of its ASN (or a peer ASN) and R&E hosts. Any other value (e.g. `0`) turns that matching off."
)
const IP = query(
  "ip",
  "Answer as if the client had this IPv4 or IPv6 address (unless the node runs with `MM_ALLOW_IP_OVERRIDE=false`); an address that does not parse is a 400. Without it the client is the TCP peer, or the address in `X-Forwarded-For` when the peer is a trusted proxy (`MM_TRUSTED_PROXIES`)."
)
const COUNTME = query("countme", "Written to the access log only (dnf's `countme` bucket); changes nothing.")
const REDIRECT = query(
  "redirect",
  "Present (any value): answer 302 to one mirror's copy of the directory, as `/download/{path}` does, instead of a list.",
  { type: "string", allowEmptyValue: true }
)
const TIME = query("time", "Present (any value): the header comment also gives the index's build time (epoch seconds).")

const PRIVATE = { schema: { type: "string", const: "private" }, description: "Answers differ per client." }
const RETRY_AFTER = {
  schema: { type: "string", examples: ["10"] },
  description: "Seconds to wait before asking again."
}

const plain = (description: string, example?: string): Json => ({
  description,
  headers: { "Cache-Control": PRIVATE },
  content: { "text/plain; charset=utf-8": { schema: text(description), ...(example ? { example } : {}) } }
})

const metalinkXml = (description: string, example?: string): Json => ({
  description,
  headers: { "Cache-Control": PRIVATE },
  content: { "application/metalink+xml": { schema: text(description), ...(example ? { example } : {}) } }
})

const NOT_ALLOWED: Json = {
  description: "Methods other than GET and HEAD.",
  headers: { Allow: { schema: { type: "string", const: "GET, HEAD" } } }
}

const FAILED: Json = {
  description: "The answer failed (logged); the node goes on serving.",
  content: { "text/plain; charset=utf-8": { schema: text("`internal error`") } }
}

const REDIRECT_ANSWER: Json = {
  description:
    "A redirect to the best mirror's copy (`Location`), with the next mirrors in RFC 6249 `Link` headers and, for a file whose SHA-256 is known, its digest.",
  headers: {
    Location: { schema: { type: "string", format: "uri" }, description: "The chosen mirror's URL of the path." },
    Link: {
      schema: { type: "string" },
      description: "Up to five mirrors, best first: `<url>; rel=duplicate; pri=N; geo=cc` (one header each)."
    },
    Digest: { schema: { type: "string" }, description: "`SHA-256=<base64>` (RFC 3230), when the SHA-256 is known." },
    "Repr-Digest": { schema: { type: "string" }, description: "`sha-256=:<base64>:` (RFC 9530), likewise." },
    "Cache-Control": { schema: { type: "string", const: "private, no-cache" } }
  }
}

const NO_MIRROR = "`no mirror available` (no mirror carries it, up to date, with an allowed scheme)"

const STARTING = (content: Json): Json => ({
  description: "The node has no index yet (it is starting): nothing to answer from.",
  headers: { "Retry-After": RETRY_AFTER, "Cache-Control": PRIVATE },
  content
})

const REDIRECTOR_TAG = "Redirector"

const mirrorlist: Json = {
  get: {
    tags: [REDIRECTOR_TAG],
    operationId: "redirector.mirrorlist",
    summary: "The mirrors of a repository or directory, one URL per line (yum, dnf `mirrorlist=`)",
    description:
      "Any path that ends in `/mirrorlist` is answered the same way. HEAD answers the same without a body. Give `repo` and `arch`, or `path`. The first lines are `#` comments saying what was asked and how the mirrors were chosen (netblock, ASN, R&E network, countries, protocols); then one base URL per mirror, best first (a bandwidth-weighted shuffle within each group). Only hosts whose copy is up to date are listed.",
    security: [],
    parameters: [REPO, ARCH, PATH("or a file in one"), COUNTRY, CC, PROTOCOL, NETBLOCK, IP, REDIRECT, TIME, COUNTME],
    responses: {
      "200": plain(
        "The list (header comments, then one URL per line). A disabled repository answers 200 with only the comment `# repo = … arch = … error: repo disabled`.",
        "# repo = epel-9 arch = x86_64 country = SE country = NO \nhttps://mirror.example.se/pub/epel/9/Everything/x86_64/\nhttp://mirror.example.no/epel/9/Everything/x86_64/\n"
      ),
      "302": REDIRECT_ANSWER,
      "400": plain(
        "A comment saying what is wrong: neither `path` nor `repo` and `arch`, an `ip` that does not parse, more than 32 or malformed country codes, an unknown protocol, control characters."
      ),
      "404": plain(
        `An unknown \`repo\`/\`arch\` (the comment lists every \`repo=…&arch=…\` there is), a \`path\` that is no directory; with \`redirect\`: ${NO_MIRROR}.`
      ),
      "405": NOT_ALLOWED,
      "500": FAILED,
      "503": STARTING({ "text/plain; charset=utf-8": { schema: text("`service starting`") } })
    }
  }
}

const metalink: Json = {
  get: {
    tags: [REDIRECTOR_TAG],
    operationId: "redirector.metalink",
    summary: "A Metalink 3.0 document of a repository's `repomd.xml` with its mirrors (dnf `metalink=`)",
    description:
      "Any path that ends in `/metalink` is answered the same way. HEAD answers the same without a body. Give `repo` and `arch`, or `path` (a repository's directory, whose `repodata/repomd.xml` is described, or a file the scans know details of). The document gives the file's size, timestamp and hashes, the older versions still accepted (alternates, within `MM_METALINK_MAX_STALE_DAYS`), and one `<url>` per mirror URL with its country and a preference (100 for the best, then down). Only hosts whose copy is up to date are listed. Every failure is a metalink too: the envelope with an XML comment saying why.",
    security: [],
    parameters: [REPO, ARCH, PATH("or a file in one"), COUNTRY, CC, PROTOCOL, NETBLOCK, IP, COUNTME],
    responses: {
      "200": metalinkXml(
        "The metalink; a disabled repository answers 200 with the failure envelope (`repo disabled`).",
        '<?xml version="1.0" encoding="utf-8"?>\n<metalink version="3.0" xmlns="http://www.metalinker.org/" type="dynamic" pubdate="Tue, 01 Dec 2026 10:00:00 GMT" generator="mirrormanager" xmlns:mm0="http://fedorahosted.org/mirrormanager">\n <files>\n  <file name="repomd.xml">\n   <mm0:timestamp>1764582000</mm0:timestamp>\n   <size>4210</size>\n   <verification>\n    <hash type="sha256">…</hash>\n   </verification>\n   <resources maxconnections="1">\n    <url protocol="https" type="https" location="SE" preference="100">https://mirror.example.se/pub/epel/9/Everything/x86_64/repodata/repomd.xml</url>\n   </resources>\n  </file>\n </files>\n</metalink>\n'
      ),
      "400": metalinkXml("The failure envelope: the parameters are wrong (as for `/mirrorlist`)."),
      "404": metalinkXml(
        "The failure envelope: an unknown repository, a path that is no directory, or no `repomd.xml` (or file details) known for it."
      ),
      "405": NOT_ALLOWED,
      "500": FAILED,
      "503": STARTING({ "application/metalink+xml": { schema: text("The failure envelope: `service starting`.") } })
    }
  }
}

const download: Json = {
  get: {
    tags: [REDIRECTOR_TAG],
    operationId: "redirector.download",
    summary: "A redirect to a nearby mirror's copy of a file or directory",
    description:
      "HEAD answers the same. The path is a file or directory of the master tree as the scans name it (it may hold `/`), e.g. `/download/pub/epel/9/Everything/x86_64/repodata/repomd.xml`. Chooses as `/mirrorlist` does, among mirrors with an https or http URL (https only with `MM_REDIRECT_HTTPS_ONLY`).",
    security: [],
    parameters: [
      {
        name: "path",
        in: "path",
        required: true,
        description: "The file or directory, below the top of the master tree; percent-encoded as in any URL.",
        schema: { type: "string" }
      },
      COUNTRY,
      CC,
      PROTOCOL,
      NETBLOCK,
      IP,
      COUNTME
    ],
    responses: {
      "302": REDIRECT_ANSWER,
      "400": plain("A comment saying which parameter is wrong (as for `/mirrorlist`)."),
      "404": plain(`An invalid path, a path whose directory is unknown, or ${NO_MIRROR}.`),
      "405": NOT_ALLOWED,
      "500": FAILED,
      "503": STARTING({ "text/plain; charset=utf-8": { schema: text("`service starting`") } })
    }
  }
}

const XML_RPC_EXAMPLE =
  "<?xml version='1.0'?>\n<methodCall>\n<methodName>checkin</methodName>\n<params>\n<param>\n<value><string>QlpoOTFBWSZTWQ…</string></value>\n</param>\n</params>\n</methodCall>\n"

const xmlrpc: Json = {
  post: {
    tags: ["Check-ins"],
    operationId: "checkins.checkin",
    summary: "A mirror host checks in (`report_mirror`, `mirrormanager report`)",
    description:
      "An XML-RPC call of method `checkin` with one string: the report (site name and password, host name, the directories of each category) as JSON, bz2-compressed, in URL-safe base64, exactly as upstream's `report_mirror` sends it. No bearer token: the site's password inside the report is the credential; after 10 failed logins within 15 minutes for a site name or from a client address, that name or address is refused for a while. The reply is always HTTP 200: a string the client prints (`checked in successful`, or upstream's error strings), or an XML-RPC fault for a malformed call.",
    security: [],
    parameters: [],
    requestBody: {
      required: true,
      description:
        "At most 8 MiB (a larger body is a fault); decompressed, at most 16 MiB of JSON and 250,000 directories.",
      content: { "text/xml": { schema: text("An XML-RPC `methodCall` (no DTD)."), example: XML_RPC_EXAMPLE } }
    },
    responses: {
      "200": {
        description:
          "A `methodResponse` holding the reply string, or a fault: -32700 not well-formed XML or a DTD, -32600 not a method call or a body over 8 MiB, -32601 a method other than `checkin`, -32602 not exactly one string parameter.",
        content: {
          "text/xml; charset=utf-8": {
            schema: text("An XML-RPC `methodResponse`."),
            example:
              "<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n<value><string>checked in successful</string></value>\n</param>\n</params>\n</methodResponse>\n"
          }
        }
      }
    }
  }
}

const metrics: Json = {
  get: {
    tags: ["Metrics"],
    operationId: "metrics.prometheus",
    summary: "The node's counters in the Prometheus text format",
    description:
      "Per node: redirector requests by endpoint and status (`mm_redirector_requests_total`), the index (`mm_index_*`: ready, from the snapshot, hosts, directories, repositories, build time, age), the change stream (`mm_changes_following`, `mm_changes_lag_seconds`, `mm_changes_applied_total`), kept answers (`mm_answer_cache_bytes`, `mm_answer_cache_answers_total{source}`: sent as kept or made afresh; `mm_answer_cache_declined_total`: fresh ones not kept for want of room) and this node's crawls (`mm_crawls_total{mode,status}`, `mm_crawl_requests_total`, `mm_hosts_switched_off_total`; sum them over the nodes). Answered directly, also while the database is down; no authentication.",
    security: [],
    parameters: [],
    responses: {
      "200": {
        description: "The metrics.",
        content: {
          "text/plain; version=0.0.4; charset=utf-8": {
            schema: text("Prometheus exposition format 0.0.4."),
            example:
              '# HELP mm_index_ready Whether an index is loaded (1) or not (0).\n# TYPE mm_index_ready gauge\nmm_index_ready 1\n# HELP mm_redirector_requests_total …\n# TYPE mm_redirector_requests_total counter\nmm_redirector_requests_total{endpoint="metalink",status="200"} 1234\n'
          }
        }
      }
    }
  }
}

/** The paths of the front server and the check-in, keyed as in an OpenAPI document. */
const frontPaths: Record<string, Json> = {
  "/mirrorlist": mirrorlist,
  "/metalink": metalink,
  "/download/{path}": download,
  "/xmlrpc": xmlrpc,
  "/metrics": metrics,
  ...pagePaths
}

const frontTags: ReadonlyArray<Json> = [
  {
    name: REDIRECTOR_TAG,
    description:
      "What dnf and yum ask for, answered by every node from its in-memory index (also while the database is down). No authentication."
  },
  { name: "Check-ins", description: "Where mirror hosts report what they carry (XML-RPC, as upstream MirrorManager)." },
  { name: "Metrics", description: "For Prometheus." },
  pagesTag
]

const SERVICE_UNAVAILABLE: Json = {
  description:
    "The registry database is not reachable (or not yet, while the node starts): nothing was read or changed. Mirrorlists and metalinks are still answered.",
  headers: { "Retry-After": RETRY_AFTER },
  content: {
    "application/problem+json": {
      schema: {
        type: "object",
        properties: {
          type: { type: "string" },
          title: { type: "string" },
          status: { type: "number", const: 503 },
          detail: { type: "string" }
        },
        required: ["type", "title", "status"]
      }
    }
  }
}

/** The HTTP methods an OpenAPI path item may hold, lower-case. */
export const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"]

/**
 * The admin API's generated document made whole: the front server's endpoints and the check-in added; every
 * `/api/` operation's 503 (the database unreachable) listed; and the 400 of request validation dropped from
 * operations that take no input at all, which cannot answer it.
 */
export const completeDocument = <Spec extends Record<string, any>>(spec: Spec): Spec => {
  const paths: Record<string, Record<string, any>> = { ...spec.paths }
  for (const [path, item] of Object.entries(paths)) {
    const copy: Record<string, any> = { ...item }
    for (const method of METHODS) {
      const operation = copy[method]
      if (operation === undefined) continue
      const responses = { ...operation.responses }
      const takesInput = (operation.parameters ?? []).length > 0 || operation.requestBody !== undefined
      if (!takesInput) delete responses["400"]
      if (path.startsWith("/api/") && responses["503"] === undefined) responses["503"] = SERVICE_UNAVAILABLE
      copy[method] = { ...operation, responses }
    }
    paths[path] = copy
  }
  for (const [path, item] of Object.entries(frontPaths)) paths[path] = item
  const tags = [
    ...(spec.tags ?? []),
    ...frontTags.filter((t) => !(spec.tags ?? []).some((s: any) => s.name === t.name))
  ]
  return { ...spec, paths, tags }
}

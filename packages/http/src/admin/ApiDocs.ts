// A self-contained, human-readable page of everything a node serves, rendered from its OpenAPI document (no CDN
// needed): per group, each operation with its parameters, body and answers.
import { Api, METHODS } from "@mirrormanager/domain/api"
import { HttpRouter, HttpServerResponse } from "effect/http"
import { OpenApi } from "effect/http-api"
import { escapeHtml } from "../pages/index.ts"

/** Text of the document (descriptions use Markdown code spans): HTML-escaped, `code` rendered as <code>. */
export const inlineHtml = (text: string) => escapeHtml(text).replace(/`([^`]+)`/g, "<code>$1</code>")

const schemaName = (schema: unknown): string => {
  const s = schema as
    | { $ref?: string; type?: string; items?: unknown; properties?: Record<string, unknown> }
    | undefined
  if (s === undefined) return ""
  if (s.$ref !== undefined) return s.$ref.split("/").pop() ?? s.$ref
  if (s.type === "array") return `${schemaName(s.items)}[]`
  if (s.properties !== undefined) return `{ ${Object.keys(s.properties).join(", ")} }`
  return s.type ?? "object"
}

/** A schema's name, linked to its entry in the schema list when it has one. */
const schemaHtml = (schema: unknown): string => {
  const name = schemaName(schema)
  const ref = (schema as { $ref?: string } | undefined)?.$ref
  return ref === undefined ? escapeHtml(name) : `<a href="#${escapeHtml(name)}">${escapeHtml(name)}</a>`
}

const isJson = (mediaType: string) => /[/+]json\b/.test(mediaType)

/** Each media type: a JSON body by its schema, anything else by its media type. */
const contentHtml = (content: Record<string, { schema?: unknown }> | undefined): string =>
  Object.entries(content ?? {})
    .map(([mediaType, media]) =>
      isJson(mediaType) ? schemaHtml(media.schema) : `<code>${escapeHtml(mediaType)}</code>`
    )
    .join(", ")

const list = (items: ReadonlyArray<string>) =>
  items.length === 0 ? "" : `<ul>${items.map((item) => `<li>${item}</li>`).join("")}</ul>`

interface Operation {
  readonly tags?: ReadonlyArray<string>
  readonly summary?: string
  readonly description?: string
  readonly parameters?: ReadonlyArray<{
    readonly name: string
    readonly in: string
    readonly required?: boolean
    readonly description?: string
  }>
  readonly requestBody?: { readonly description?: string; readonly content?: Record<string, { schema?: unknown }> }
  readonly responses?: Record<
    string,
    {
      readonly description?: string
      readonly headers?: Record<string, unknown>
      readonly content?: Record<string, { schema?: unknown }>
    }
  >
  readonly security?: ReadonlyArray<unknown>
}

const operationRow = (path: string, method: string, op: Operation): string => {
  const about = [op.summary, op.description].filter((t): t is string => t !== undefined && t.length > 0)
  const params = (op.parameters ?? []).map(
    (p) =>
      `<code>${escapeHtml(p.name)}</code>${p.required ? "" : "?"} (${escapeHtml(p.in)})` +
      (p.description === undefined ? "" : ` — ${inlineHtml(p.description)}`)
  )
  const body = op.requestBody === undefined ? "" : contentHtml(op.requestBody.content)
  const responses = Object.entries(op.responses ?? {}).map(([code, r]) => {
    const content = contentHtml(r.content)
    const named = Object.values(r.content ?? {}).map((m) => schemaName(m.schema))
    // A generated answer's description repeats its schema's name: said once.
    const description = r.description === undefined || named.includes(r.description) ? "" : inlineHtml(r.description)
    const headers = Object.keys(r.headers ?? {})
    return [
      `<b>${escapeHtml(code)}</b>`,
      content,
      description === "" ? "" : `— ${description}`,
      headers.length === 0 ? "" : `(headers: ${headers.map((h) => `<code>${escapeHtml(h)}</code>`).join(", ")})`
    ]
      .filter((part) => part !== "")
      .join(" ")
  })
  const auth = op.security?.length ? "bearer" : "none"
  return (
    `<tr><td class="m">${escapeHtml(method.toUpperCase())}</td><td><code>${escapeHtml(path)}</code></td>` +
    `<td>${about.map((t) => `<p>${inlineHtml(t)}</p>`).join("")}</td><td>${list(params)}</td><td>${body}</td>` +
    `<td>${list(responses)}</td><td>${auth}</td></tr>`
  )
}

const anchor = (tag: string) => `tag-${tag.toLowerCase().replace(/[^a-z0-9]+/g, "-")}`

export const renderApiDocs = (): string => {
  const spec = OpenApi.fromApi(Api) as unknown as {
    info: { title: string; description?: string; version: string }
    tags: ReadonlyArray<{ name: string; description?: string }>
    paths: Record<string, Record<string, Operation>>
    components: { schemas: Record<string, any> }
  }
  const rowsByTag = new Map<string, Array<string>>(spec.tags.map((tag) => [tag.name, []]))
  for (const [path, item] of Object.entries(spec.paths)) {
    for (const method of METHODS) {
      const op = item[method]
      if (op === undefined) continue
      const tag = op.tags?.[0] ?? "Other"
      if (!rowsByTag.has(tag)) rowsByTag.set(tag, [])
      rowsByTag.get(tag)!.push(operationRow(path, method, op))
    }
  }
  const descriptions = new Map(spec.tags.map((tag) => [tag.name, tag.description]))
  const sections = [...rowsByTag]
    .filter(([, rows]) => rows.length > 0)
    .map(([tag, rows]) => {
      const description = descriptions.get(tag)
      return `<h2 id="${anchor(tag)}">${escapeHtml(tag)}</h2>
${description === undefined ? "" : `<p>${inlineHtml(description)}</p>\n`}<table><tr><th>Method</th><th>Path</th><th>What</th><th>Parameters</th><th>Body</th><th>Answers</th><th>Auth</th></tr>
${rows.join("\n")}
</table>`
    })
  const contents = [...rowsByTag]
    .filter(([, rows]) => rows.length > 0)
    .map(([tag]) => `<a href="#${anchor(tag)}">${escapeHtml(tag)}</a>`)
    .join(" · ")
  const schemas = Object.entries(spec.components.schemas)
    .map(([name, s]) => {
      const fields = Object.entries((s.properties ?? {}) as Record<string, unknown>)
        .map(([field, f]) => `${field}${(s.required ?? []).includes(field) ? "" : "?"}: ${schemaName(f)}`)
        .join(", ")
      return `<li><b id="${escapeHtml(name)}">${escapeHtml(name)}</b> ${escapeHtml(fields)}</li>`
    })
    .join("\n")
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta name="color-scheme" content="light dark"><title>${escapeHtml(spec.info.title)}</title>
<style>body{font-family:sans-serif;margin:1em;max-width:90em}@media (prefers-color-scheme: dark){code{background:#222!important}}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}td p{margin:0 0 .4em}td ul{margin:0;padding-left:1.2em}.m{font-weight:bold}code{background:#f4f4f4;padding:0 2px}</style>
</head><body>
<p><a href="/">Public pages</a> · <a href="/mirrors">Mirrors</a></p>
<h1>${escapeHtml(spec.info.title)} <small>${escapeHtml(spec.info.version)}</small></h1>
<p>${inlineHtml(spec.info.description ?? "")}</p>
<p>Machine-readable: <a href="/openapi.json">/openapi.json</a> (OpenAPI 3.1).</p>
<p>${contents}</p>
${sections.join("\n")}
<h2>Schemas</h2><ul>${schemas}</ul>
</body></html>
`
}

export const ApiDocsRoute = HttpRouter.add("GET", "/docs", HttpServerResponse.html(renderApiDocs()))

// A self-contained, human-readable page of the admin API, rendered from its OpenAPI document (no CDN needed).
import { Api } from "@mirrormanager/domain/api/Api"
import { HttpRouter, HttpServerResponse } from "effect/http"
import { OpenApi } from "effect/http-api"

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!)

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

export const renderApiDocs = (): string => {
  const spec = OpenApi.fromApi(Api) as unknown as {
    info: { title: string; description?: string; version: string }
    paths: Record<string, Record<string, any>>
    components: { schemas: Record<string, any> }
  }
  const rows: Array<string> = []
  for (const [path, item] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const params = (op.parameters ?? []).map((p: any) => `${p.name}${p.required ? "" : "?"} (${p.in})`).join(", ")
      const body = schemaName(op.requestBody?.content?.["application/json"]?.schema)
      const responses = Object.entries(op.responses ?? {})
        .map(([code, r]: [string, any]) => `${code} ${schemaName(r.content?.["application/json"]?.schema)}`.trim())
        .join("; ")
      const auth = op.security?.length ? "bearer" : "none"
      rows.push(
        `<tr><td class="m">${escapeHtml(method.toUpperCase())}</td><td><code>${escapeHtml(path)}</code></td>` +
          `<td>${escapeHtml(op.tags?.join(", ") ?? "")}</td><td>${escapeHtml(params)}</td><td>${escapeHtml(body)}</td>` +
          `<td>${escapeHtml(responses)}</td><td>${auth}</td></tr>`
      )
    }
  }
  const schemas = Object.entries(spec.components.schemas)
    .map(([name, s]) => {
      const fields = Object.entries((s.properties ?? {}) as Record<string, unknown>)
        .map(([field, f]) => `${field}${(s.required ?? []).includes(field) ? "" : "?"}: ${schemaName(f)}`)
        .join(", ")
      return `<li><b id="${escapeHtml(name)}">${escapeHtml(name)}</b> ${escapeHtml(fields)}</li>`
    })
    .join("\n")
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(spec.info.title)}</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}.m{font-weight:bold}</style>
</head><body>
<h1>${escapeHtml(spec.info.title)} <small>${escapeHtml(spec.info.version)}</small></h1>
<p>${escapeHtml(spec.info.description ?? "")}</p>
<p>Machine-readable: <a href="/openapi.json">/openapi.json</a> (OpenAPI 3.1).</p>
<h2>Endpoints</h2>
<table><tr><th>Method</th><th>Path</th><th>Group</th><th>Parameters</th><th>Body</th><th>Responses</th><th>Auth</th></tr>
${rows.join("\n")}
</table>
<h2>Schemas</h2><ul>${schemas}</ul>
</body></html>
`
}

export const ApiDocsRoute = HttpRouter.add("GET", "/docs", HttpServerResponse.html(renderApiDocs()))

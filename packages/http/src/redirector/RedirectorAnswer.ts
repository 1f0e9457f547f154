// What the redirector answers, as bytes: a request goes to the Redirector's decision, which this writes out as a
// mirrorlist, a metalink, a redirect or an error (docs/redirector.md#formats), through the answer cache when answers
// are kept.
import {
  type MetalinkForm,
  type MirrorlistForm,
  type Plans,
  planAfresh,
  type RedirectForm,
  type Redirector,
  type RedirectorRequest,
  type Selected,
  type Selecting
} from "@mirrormanager/actors/redirector"
import type { AccessFields, Answer, Endpoint } from "./Answer.ts"
import { type AnswerCache, answerOf, type Rendered } from "./AnswerCache.ts"
import { httpDate, metalinkDraft, metalinkFailure, mirrorlistBody, mirrorlistHeader } from "./MirrorlistFormat.ts"

export interface AnswerOptions {
  /** Where answers are kept (a node has one, bounded by its settings); without, every answer is made afresh. */
  readonly answers?: AnswerCache
}

export const answer = (
  redirector: Redirector["Service"],
  options: AnswerOptions,
  request: RedirectorRequest
): Answer => {
  const settings = redirector.settings
  const now = redirector.now()
  const decision = redirector.decide(request)
  const access = decision.access
  const log: AccessFields = {
    client: access.client,
    country: access.country,
    repo: access.repo,
    arch: access.arch,
    path: access.path,
    hosts: 0,
    countme: access.countme,
    result: "ok"
  }
  switch (decision.kind) {
    case "starting":
      return text(decision.endpoint, 503, "service starting", log, now, settings.generator, { "retry-after": "10" })
    case "refused":
      return text(decision.endpoint, decision.status, decision.message, log, now, settings.generator)
  }
  const compute = (plans: Plans) => render(decision, settings.generator, decision.select(redirector.random(), plans))
  const key = decision.key
  // The index the decision was made from: what is kept for it goes when another replaces it.
  const index = redirector.status().index
  if (key === undefined || index === undefined || options.answers === undefined) {
    return answerOf(compute(planAfresh), now, log)
  }
  // Answers are kept per directory, request and client class as a few independently shuffled variants (see
  // AnswerCache).
  return options.answers.answer(
    index,
    key.view,
    key.request,
    key.client,
    { variants: settings.answerVariants, refresh: Math.max(1, settings.answerRefresh) },
    redirector.random(),
    now,
    log,
    key.reasonVersion,
    compute
  )
}

/** An answer without mirrors: the message as the body, or in a metalink's failure envelope. */
const text = (
  endpoint: Endpoint,
  status: number,
  body: string,
  log: AccessFields,
  now: number,
  generator: string,
  extra: Record<string, string> = {}
): Answer => {
  log.result = status === 200 ? log.result : body.split("\n")[0]!.replace(/^# /, "")
  if (endpoint === "metalink") {
    const pubdate = httpDate(now)
    return {
      endpoint,
      status,
      headers: { "content-type": "application/metalink+xml", "cache-control": "private", ...extra },
      body: [metalinkFailure(pubdate, generator, body.replace(/^# /, "").replace(/\n$/, ""))],
      log
    }
  }
  return {
    endpoint,
    status,
    headers: { "content-type": "text/plain; charset=utf-8", "cache-control": "private", ...extra },
    body: [body],
    log
  }
}

/** One answer of a decision with mirrors, from one selection. */
const render = (decision: Selecting, generator: string, selected: Selected): Rendered => {
  const form = decision.form
  switch (form.kind) {
    case "redirect":
      return redirect(decision.endpoint, form, selected)
    case "metalink":
      return metalink(decision.endpoint, form, generator, selected)
    case "mirrorlist":
      return mirrorlist(decision.endpoint, form, selected)
  }
}

const METALINK_HEADERS = { "content-type": "application/metalink+xml", "cache-control": "private" }
const TEXT_HEADERS = { "content-type": "text/plain; charset=utf-8", "cache-control": "private" }

const metalink = (endpoint: Endpoint, form: MetalinkForm, generator: string, selected: Selected): Rendered => {
  const { selection, empty } = selected
  return {
    endpoint,
    status: 200,
    headers: METALINK_HEADERS,
    body: metalinkDraft(
      generator,
      { name: form.name, details: form.details, subpath: form.subpath, tail: form.tail, emptyNote: empty },
      selection.hosts,
      form.protocols
    ),
    hosts: selection.hosts.length,
    result: "ok"
  }
}

const mirrorlist = (endpoint: Endpoint, form: MirrorlistForm, selected: Selected): Rendered => {
  const { selection, empty } = selected
  const header = mirrorlistHeader(
    {
      subject: form.subject,
      protocols: form.protocols,
      databaseTime: form.databaseTime,
      notes: empty === undefined ? form.notes : [...form.notes, empty]
    },
    selection
  )
  return {
    endpoint,
    status: 200,
    headers: TEXT_HEADERS,
    body: mirrorlistBody(header, selection.hosts, form.subpath, form.tail, form.protocols),
    hosts: selection.hosts.length,
    result: "ok"
  }
}

/** Selection already kept only the schemes a redirect may use, https first: each host's first URL is its best. */
const redirect = (endpoint: Endpoint, form: RedirectForm, selected: Selected): Rendered => {
  const { selection, empty } = selected
  // Header values: the path percent-encoded segment by segment (a file name may hold any character, `#` and `?`
  // too, which would end the path).
  const candidates: Array<{ url: string; country: string }> = []
  for (const { host, urls } of selection.hosts) {
    const url = urls[0]
    if (url !== undefined) candidates.push({ url: `${url.url}${form.path}`, country: host.country })
  }
  const hosts = selection.hosts.length
  const cacheControl = "private, no-cache"
  if (candidates.length === 0) {
    return {
      endpoint,
      status: 404,
      headers: { "content-type": "text/plain; charset=utf-8", "cache-control": cacheControl },
      body: `no mirror available\n${empty === undefined ? "" : `# ${empty}\n`}`,
      hosts,
      result: "no mirror available"
    }
  }
  const headers: Record<string, string | ReadonlyArray<string>> = {
    location: candidates[0]!.url,
    "cache-control": cacheControl,
    link: candidates
      .slice(0, 5)
      .map((c, i) => `<${c.url}>; rel=duplicate; pri=${i + 1}; geo=${c.country.toLowerCase()}`)
  }
  if (form.sha256 !== undefined) {
    const digest = Buffer.from(form.sha256, "hex").toString("base64")
    headers.digest = `SHA-256=${digest}`
    headers["repr-digest"] = `sha-256=:${digest}:`
  }
  return { endpoint, status: 302, headers, body: "", hosts, result: "redirect" }
}

// What the redirector decides for a request, as plain data: an answer to select mirrors for (what to answer, the
// key its kept answers hang on, the shuffle), or a refusal with its status and reason, or "starting". Synchronous,
// no database: everything comes from the index. Turning a decision into bytes is the front's work.
import type { MirrorUrlScheme } from "@mirrormanager/domain/registry"
import type { ClientAddress, Netblock } from "../ipdata/index.ts"
import type { FileDetailSource } from "./IndexSource.ts"
import { type CarrierView, encodePath, type IndexDirectory, type MirrorIndex } from "./MirrorIndex.ts"
import {
  type Asked,
  clientAddress,
  type Endpoint,
  endpointOf,
  type Failure,
  hasControl,
  type LoggedFields,
  loggedFields,
  parseQuery,
  type RedirectorRequest,
  type Resolution,
  resolveRequest
} from "./RedirectorRequest.ts"
import type { ResolvedRequests } from "./ResolvedRequests.ts"
import {
  orderSelection,
  planSelection,
  type RandomSource,
  researchCarriers,
  type Selection,
  type SelectionOptions,
  type SelectionPlan
} from "./Selection.ts"

/** What a plain list or a metalink lists without `protocol=`. */
export const DEFAULT_SCHEMES: ReadonlyArray<MirrorUrlScheme> = ["https", "http", "ftp"]

/** Schemes a redirect may go to: https and http, or https only. */
const REDIRECT_SCHEMES: ReadonlyArray<ReadonlyArray<MirrorUrlScheme>> = [["https", "http"], ["https"]]

export interface ClientFacts {
  readonly country: string | undefined
  readonly asn: number | undefined
  readonly researchNetwork: boolean
}

/** What the access log says of a request: the fields of its path and query, the client and its country. */
export interface AccessFacts extends LoggedFields {
  readonly client: string | undefined
  readonly country: string | undefined
}

/** Where a selection gets its plan: made afresh, or kept (by the answer cache, for its entry). */
export type Plans = <P>(make: () => P, cost: (plan: P) => number) => P

/** Plans for answers that are not kept: made for each. */
export const planAfresh: Plans = (make) => make()

/** What one shuffle gave: the hosts in order, the header tokens, and why there is none when there is none. */
export interface Selected {
  readonly selection: Selection
  /** Why the selection is empty, in plain words (a comment of the answer); undefined when it lists hosts. */
  readonly empty: string | undefined
}

/** A plain list of the directory's (or the file's) URL on each mirror. */
export interface MirrorlistForm {
  readonly kind: "mirrorlist"
  /** `repo = R arch = A ` or `path = P ` (without the leading `# `). */
  readonly subject: string
  readonly protocols: ReadonlyArray<MirrorUrlScheme> | undefined
  /** `time` was asked for: the index build epoch, in seconds. */
  readonly databaseTime: number | undefined
  /** Comment lines of the header on what of the request was ignored (without `# `). */
  readonly notes: ReadonlyArray<string>
  readonly subpath: string
  /** `/` for a directory, `/<file>` (percent-encoded) for a file. */
  readonly tail: string
}

/** A metalink of one file: its details (the newest and the alternates within the window) and each mirror's URLs. */
export interface MetalinkForm {
  readonly kind: "metalink"
  readonly name: string
  /** Newest first; the first is the current file, the rest the alternates already cut to the window. */
  readonly details: ReadonlyArray<FileDetailSource>
  readonly subpath: string
  /** The path from the directory's URL to the file: `/repomd.xml`. */
  readonly tail: string
  readonly protocols: ReadonlyArray<MirrorUrlScheme> | undefined
}

/** A redirect to the first mirror's URL (each selected host's first URL is its best). */
export interface RedirectForm {
  readonly kind: "redirect"
  /** Appended to a host's category URL: the directory's subpath and the file, percent-encoded. */
  readonly path: string
  /** The file's SHA-256, hex, when it is known and well-formed (for `Digest` and `Repr-Digest`). */
  readonly sha256: string | undefined
}

export type AnswerForm = MirrorlistForm | MetalinkForm | RedirectForm

/** What answers for a decision may be kept under: a directory's carriers, the request and the client's class. */
export interface AnswerKey {
  /** The index's view of the directory's carriers: replaced by any change that touches them. */
  readonly view: CarrierView
  /** Everything of the request that shapes the answer besides the client. */
  readonly request: string
  /** Which clients get the same answers: their place, ASN, netblocks, R&E membership and address family. */
  readonly client: string
  /** The index's `reasonVersion`: a kept answer without a mirror is good while it is the same. */
  readonly reasonVersion: number
}

interface DecisionOf<K extends string> {
  readonly kind: K
  readonly endpoint: Endpoint
  readonly access: AccessFacts
}

/** No index yet: the node is starting (503, try again). */
export type Starting = DecisionOf<"starting">

/** A request answered without mirrors: its status and the message (the first line says why). */
export interface Refused extends DecisionOf<"refused"> {
  readonly status: number
  readonly message: string
}

/** An answer with mirrors: how it is written, what it may be kept under, and the shuffle that selects them. */
export interface Selecting extends DecisionOf<"selecting"> {
  readonly form: AnswerForm
  /** Undefined when the redirector keeps no answers (`answerVariants` 0). */
  readonly key: AnswerKey | undefined
  /** Selects the mirrors (the plan from `plans`, made afresh by default), in an order drawn from `random`. */
  readonly select: (random: RandomSource, plans?: Plans) => Selected
}

export type Decision = Starting | Refused | Selecting

/** What the redirector settings a decision reads. */
export interface DecisionSettings {
  readonly minimum: number
  readonly allowIpOverride: boolean
  readonly maxStaleDays: number
  readonly httpsOnly: boolean
  readonly answerVariants: number
  readonly trustedProxies: ReadonlyArray<Netblock>
}

/** A resolved request with what its answer is made of, worked out once per path and query. */
export interface Prepared extends Omit<Resolution, "outcome"> {
  readonly outcome: PreparedAsk | Failure
}

interface PreparedAsk extends Asked {
  readonly form: AnswerForm
  /** The schemes the answer can list: selection sees only those. */
  readonly listable: ReadonlyArray<MirrorUrlScheme>
}

/** A request's path and query against an index, with the form of its answer (see ResolvedRequests). */
export const prepareRequest = (
  index: MirrorIndex,
  settings: DecisionSettings,
  endpoint: Endpoint,
  path: string,
  query: string
): Prepared => {
  const resolution = resolveRequest(index, endpoint, path, query)
  const asked = resolution.outcome
  if ("status" in asked) return resolution as Prepared
  const { target, protocols, redirecting } = asked
  // Selection sees only the schemes the answer can list, so the global fill counts hosts that will be listed: a
  // host with only rsync URLs is no mirror for a plain list, an ftp-only host none for a redirect.
  const listable: ReadonlyArray<MirrorUrlScheme> = redirecting
    ? REDIRECT_SCHEMES[settings.httpsOnly ? 1 : 0]!.filter((s) => protocols === undefined || protocols.includes(s))
    : (protocols ?? DEFAULT_SCHEMES)
  const tail = target.file === undefined ? "/" : `/${encodePath(target.file)}`
  const subpath = target.directory.urlSubpath
  let form: AnswerForm
  if (redirecting) {
    const newest = target.file === undefined ? undefined : target.directory.files.get(target.file)?.[0]
    const sha256 = newest?.sha256
    form = {
      kind: "redirect",
      path: subpath === "" ? tail : `/${subpath}${tail}`,
      sha256: sha256 != null && /^[0-9a-f]{64}$/i.test(sha256) ? sha256 : undefined
    }
  } else if (endpoint === "metalink") {
    const file = target.file!
    const all = target.directory.files.get(file) ?? []
    const newest = all[0]!
    const window = newest.timestamp - settings.maxStaleDays * 86_400
    const details = [newest, ...all.slice(1).filter((d) => d.timestamp >= window)]
    form = { kind: "metalink", name: file, details, subpath, tail: `/${encodePath(file)}`, protocols }
  } else {
    form = {
      kind: "mirrorlist",
      subject: target.subject,
      protocols,
      databaseTime: asked.time ? Math.floor(index.builtAt / 1000) : undefined,
      notes:
        asked.unknownCountries.length > 0
          ? [`country = ${asked.unknownCountries.join(",")} ignored: not a country code`]
          : [],
      subpath,
      tail
    }
  }
  return { ...resolution, outcome: { ...asked, form, listable } }
}

/** Failed requests are worked out every time (an error that lists every repository is large). */
export const worthKeeping = (prepared: Prepared): boolean => !("status" in prepared.outcome)

/** What a decision needs of its redirector. */
export interface DecisionContext {
  readonly settings: DecisionSettings
  readonly prepared: ResolvedRequests<Prepared>
  readonly clientFacts: (
    index: MirrorIndex,
    address: ClientAddress | undefined,
    needs: { readonly asn: boolean; readonly researchNetwork: boolean }
  ) => ClientFacts
  readonly selectionOptions: (facts: ClientFacts) => SelectionOptions
}

const NO_NETWORK_FACTS = { asn: false, researchNetwork: false }

export const decide = (
  context: DecisionContext,
  index: MirrorIndex | undefined,
  request: RedirectorRequest
): Decision => {
  // The front routes only the redirector's paths here.
  const endpoint = endpointOf(request.path)!
  const { settings } = context
  if (index === undefined) {
    const fields = loggedFields(endpoint, request.path, parseQuery(request.query))
    return { kind: "starting", endpoint, access: { ...fields, client: undefined, country: undefined } }
  }
  const prepared = context.prepared.get(index, request.path, request.query, () =>
    prepareRequest(index, settings, endpoint, request.path, request.query)
  )
  const fields: LoggedFields = {
    repo: prepared.repo,
    arch: prepared.arch,
    path: prepared.path,
    countme: prepared.countme
  }

  // The client: as `ip=` says (when allowed), else the peer or what trusted proxies say.
  let client: ClientAddress | undefined
  if (prepared.ip !== undefined && settings.allowIpOverride) {
    if (prepared.ip === null) {
      return {
        kind: "refused",
        endpoint,
        access: { ...fields, client: undefined, country: undefined },
        status: 400,
        message: "Cannot parse client IP address. Aborting."
      }
    }
    client = prepared.ip
  } else {
    client = clientAddress(request.peer, request.forwardedFor, settings.trustedProxies)
  }

  // What is asked for.
  const asked = prepared.outcome
  if ("status" in asked) {
    const country = context.clientFacts(index, client, NO_NETWORK_FACTS).country
    return {
      kind: "refused",
      endpoint,
      access: { ...fields, client: client?.text, country },
      status: asked.status,
      message: asked.message
    }
  }
  // The client's ASN and R&E membership matter only where a carrier serves an ASN or sits on an R&E network.
  const directory = asked.target.directory
  const view = index.carriers(directory)
  const facts = context.clientFacts(index, client, {
    asn: view.servesAsns,
    researchNetwork: view.research.length > 0
  })
  const access: AccessFacts = { ...fields, client: client?.text, country: facts.country }

  const select = (random: RandomSource, plans: Plans = planAfresh): Selected => {
    const plan = plans(
      () =>
        planSelection(
          index,
          {
            directory,
            client,
            countries: asked.countries,
            netblockMatching: asked.netblockMatching,
            protocols: asked.listable
          },
          context.selectionOptions(facts)
        ),
      planCost
    )
    const selection = orderSelection(plan, random)
    const empty =
      selection.hosts.length === 0
        ? whyEmpty(index, directory, selection, asked.listable, asked.redirecting, facts)
        : undefined
    return { selection, empty }
  }
  if (settings.answerVariants <= 0) {
    return { kind: "selecting", endpoint, access, form: asked.form, key: undefined, select }
  }

  // Answers are kept per directory, request and client class. A client inside mirrors' netblocks is classed by
  // those netblocks: which carriers, at which prefix lengths.
  let netblocks = ""
  if (asked.countries.length === 0 && asked.netblockMatching && client !== undefined) {
    for (const level of index.netblockMatches(client)) {
      for (const id of level.values) if (view.allIds.has(id)) netblocks += `${level.prefixLength}:${id},`
    }
  }
  // Which carriers serve the client's ASN, and which R&E carriers its country has: named, like the netblocks' (a
  // private host's change mends a view in place, and an answer depends on it only through these).
  let asn = ""
  if (facts.asn !== undefined) {
    const serving = index.servingAsn(view, facts.asn)
    if (serving.length > 0) asn = `${facts.asn}:${serving.map((host) => host.id).join(",")}`
  }
  const research =
    facts.researchNetwork && facts.country !== undefined
      ? researchCarriers(view, facts.country)
          .map((host) => host.id)
          .join(",")
      : ""
  // The client's country matters only through its own carriers, its continent, R&E hosts and allowed-country
  // lists: a client from a country without carriers gets what any client of its continent would.
  const cc = facts.country
  const place =
    cc === undefined
      ? "?"
      : view.byCountry.has(cc) || view.restricted || facts.researchNetwork
        ? cc
        : `@${index.continentOf(cc) ?? "?"}`
  const key: AnswerKey = {
    view,
    request: asked.key,
    client: `${place}|${asn}|${netblocks}|${facts.researchNetwork ? `1:${research}` : 0}|${client?.family ?? 0}`,
    reasonVersion: index.reasonVersion
  }
  return { kind: "selecting", endpoint, access, form: asked.form, key, select }
}

/** What a kept plan costs, in bytes' worth: per group its two lists (hosts and their URLs), 8 bytes an item each. */
const planCost = (plan: SelectionPlan) => plan.groups.reduce((sum, group) => sum + 16 * group.hosts.length + 96, 0)

/** Names as they go into a comment line: no control characters. */
const plain = (text: string) => (hasControl(text) ? Array.from(text, (c) => (hasControl(c) ? " " : c)).join("") : text)

const hostCount = (n: number) => (n === 1 ? "1 host" : `${n} hosts`)

/**
 * Why an answer lists no mirror, in plain words, for a comment of the answer (docs/redirector.md#errors: still a 200).
 */
const whyEmpty = (
  index: MirrorIndex,
  directory: IndexDirectory,
  selection: Selection,
  listable: ReadonlyArray<MirrorUrlScheme>,
  redirecting: boolean,
  facts: ClientFacts
): string => {
  switch (selection.empty) {
    case "protocol":
      if (listable.length === 0) {
        return "a redirect goes to an https or http URL, and protocol= allows neither"
      }
      return `no mirror offers protocol(s) ${listable.join(",")}${redirecting ? " (redirects go to https or http URLs only)" : ""}`
    case "private-only":
      return "no public mirror carries this; the private mirrors that do serve only clients in their own networks"
    case "countries-allowed":
      return `every mirror carrying this serves only clients of the countries it lists, and ${facts.country === undefined ? "this client's country is not known" : `${facts.country} is not one of them`}`
    case "no-match":
      return "no mirror matched this client's networks, countries or continent, and the worldwide list is off (selection minimum 0)"
    default: {
      const reason = index.noCarrierReason(directory)
      switch (reason.kind) {
        case "no-category":
          return "no mirror carries this: it belongs to no category"
        case "no-host":
          return `no mirror carries this yet: no active host has the category "${plain(reason.category)}"`
        case "no-url":
          return `no mirror carries this: the ${hostCount(reason.hosts)} with the category "${plain(reason.category)}" have no usable URL (each private, unreachable or with an invalid TLS certificate)`
        case "repodata":
          return `no mirror carries this repository: its repodata/ is stale or not yet verified on the ${hostCount(reason.hosts)} up to date on its directory`
        case "stale":
          return `no mirror carries this yet: none of the ${hostCount(reason.hosts)} with the category "${plain(reason.category)}" is up to date on it (stale, or not yet verified by a check-in or a crawl)`
      }
    }
  }
}

// Shared by the API tests: the records a test needs before it can ask anything, built over the API itself.
// Every builder insists on 201 Created (see `create`), so a broken fixture fails where it is built.
import { Effect } from "effect"
import { expectStatus } from "./Requests.ts"

export type Json = Record<string, any>

let seq = 0
/** A name no other call of this test file uses; lower-case prefixes give names valid as username, arch and DNS label. */
export const unique = (prefix: string) => `${prefix}${++seq}`

/** POSTs `body` as the global admin, or as the holder of `token`, insists on 201 and returns what was created. */
export const create = (path: string, body: unknown, token?: string) =>
  expectStatus("POST", path, 201, token === undefined ? { body } : { token, body })

// ---------------------------------------------------------------------------------------------------------------
// Single records (all fields may be overridden; the token, where taken, is who creates it)

export const createUser = (fields: Json = {}, token?: string) =>
  create("/api/users", { username: unique("user"), ...fields }, token)

export const issueToken = (userId: number, fields: Json = {}, token?: string) =>
  create(`/api/users/${userId}/tokens`, fields, token)

/** The password of every site created here unless the caller names another; no reply may ever show it. */
export const SITE_PASSWORD = "check-in-secret"

export const createSite = (fields: Json = {}, token?: string) =>
  create("/api/sites", { name: unique("site"), password: SITE_PASSWORD, ...fields }, token)

export const createHost = (siteId: number, fields: Json = {}, token?: string) =>
  create(`/api/sites/${siteId}/hosts`, { name: unique("host"), country: "DE", ...fields }, token)

export const createHostCategory = (hostId: number, categoryId: number, token?: string) =>
  create(`/api/hosts/${hostId}/categories`, { categoryId }, token)

export const createProduct = (fields: Json = {}) => create("/api/products", { name: unique("product"), ...fields })

/** A category, of a new product unless `fields` names one. */
export const createCategory = (fields: Json = {}) =>
  Effect.gen(function* () {
    const productId: number = fields.productId ?? (yield* createProduct()).id
    return yield* create("/api/categories", {
      name: unique("category"),
      topdir: unique("pub/category-"),
      ...fields,
      productId
    })
  })

/** Waits until no scan of the category runs and one has finished; its status. */
export const waitForScan = (categoryId: number) =>
  Effect.gen(function* () {
    for (let i = 0; i < 200; i++) {
      const status = yield* expectStatus("GET", `/api/categories/${categoryId}/scan`, 200)
      if (status.running === null && status.last !== null) return status
      yield* Effect.sleep("50 millis")
    }
    return yield* Effect.die("the scan did not finish")
  })

/** Scans the category's master tree now (as the global admin) and waits for the scan to finish. */
export const scanCategory = (categoryId: number) =>
  Effect.gen(function* () {
    yield* expectStatus("POST", `/api/categories/${categoryId}/scan`, 202)
    return yield* waitForScan(categoryId)
  })

export const createArch = (fields: Json = {}) => create("/api/arches", { name: unique("arch-"), ...fields })

// ---------------------------------------------------------------------------------------------------------------
// Groups of records

/** A user with an API token. */
export const makeUser = (fields: Json = {}) =>
  Effect.gen(function* () {
    const user = yield* createUser(fields)
    const issued = yield* issueToken(user.id, { name: "tests" })
    return {
      id: user.id as number,
      username: user.username as string,
      token: issued.token as string,
      tokenId: issued.id as number
    }
  })

/** A site with one host carrying one category (of a new product); site, host and host category made by `token`. */
export const createChain = (token?: string) =>
  Effect.gen(function* () {
    const site = yield* createSite({}, token)
    const host = yield* createHost(site.id, {}, token)
    const category = yield* createCategory()
    const hostCategory = yield* createHostCategory(host.id, category.id, token)
    return { site, host, category, hostCategory }
  })

/** Content that tenants' hosts carry and repositories refer to, made by the global admin. */
export interface Content {
  readonly productId: number
  /** Of the product; carried by every tenant's host. */
  readonly categoryId: number
  /** Of the product; carried by no host. */
  readonly otherCategoryId: number
  /** Of the product, adminOnly: only global admins may add it to a host. */
  readonly adminOnlyCategoryId: number
  /** An arch's name. */
  readonly arch: string
}

export const makeContent = Effect.gen(function* () {
  const product = yield* createProduct()
  const category = (adminOnly: boolean) => Effect.map(createCategory({ productId: product.id, adminOnly }), (c) => c.id)
  return {
    productId: product.id,
    categoryId: yield* category(false),
    otherCategoryId: yield* category(false),
    adminOnlyCategoryId: yield* category(true),
    arch: (yield* createArch()).name
  } satisfies Content
})

/** The repository fixture-<tag> of the content's category and arch, in pub/fixture-<tag>/os. */
export const createRepository = (content: Content, tag: string) =>
  create("/api/repositories", {
    prefix: `fixture-${tag}`,
    arch: content.arch,
    directory: `pub/fixture-${tag}/os`,
    categoryId: content.categoryId
  })

/**
 * A user with a token (named "tests"), and what they made with it: a site (name "<username> site", password
 * `SITE_PASSWORD`), its host "<username>-mirror" (country DE, comment "original comment") carrying
 * `content.categoryId` with the URL https://<username>.example.org/pub, the netblock 192.0.2.0/24 and the allowed
 * country DE; and the peer ASN 64496, which only the global admin may add.
 */
export interface Tenant {
  readonly username: string
  readonly userId: number
  readonly token: string
  readonly tokenId: number
  readonly siteId: number
  readonly hostId: number
  readonly hostCategoryId: number
  readonly url: string
  readonly urlId: number
  readonly netblockId: number
  readonly countryId: number
  readonly peerAsnId: number
}

export const makeTenant = (content: Content) =>
  Effect.gen(function* () {
    const user = yield* makeUser()
    const { username, token } = user
    const site = yield* createSite({ name: `${username} site` }, token)
    const host = yield* createHost(site.id, { name: `${username}-mirror`, comment: "original comment" }, token)
    const hc = yield* createHostCategory(host.id, content.categoryId, token)
    const url = `https://${username}.example.org/pub`
    const created = yield* create(`/api/host-categories/${hc.id}/urls`, { url }, token)
    const netblock = yield* create(`/api/hosts/${host.id}/netblocks`, { netblock: "192.0.2.0/24" }, token)
    const country = yield* create(`/api/hosts/${host.id}/countries-allowed`, { country: "DE" }, token)
    const peerAsn = yield* create(`/api/hosts/${host.id}/peer-asns`, { asn: 64496 })
    return {
      username,
      userId: user.id,
      token,
      tokenId: user.tokenId,
      siteId: site.id,
      hostId: host.id,
      hostCategoryId: hc.id,
      url,
      urlId: created.id,
      netblockId: netblock.id,
      countryId: country.id,
      peerAsnId: peerAsn.id
    } satisfies Tenant
  })

/** Content, and one tenant on it. */
export const oneTenant = Effect.gen(function* () {
  const content = yield* makeContent
  return { content, a: yield* makeTenant(content) }
})

/** Content, and two tenants on it: what one may do to the other's records. */
export const twoTenants = Effect.gen(function* () {
  const content = yield* makeContent
  return { content, a: yield* makeTenant(content), b: yield* makeTenant(content) }
})

// The public pages in a real browser (issue 16): Debian's chromium, driven by puppeteer-core (which downloads no
// browser), loads every page at a desktop and a phone width over a small world (BrowserWorld.ts). A page fails on a
// console error or warning, an uncaught error, a failed request or an answer of 400 or more; it must say its
// language, have one h1, headers on every table, no sideways scrolling of the whole page, and show exactly the hosts
// it should. Then the mirror list is used as a person would: a sort, the country filter, a host's own page.
// Full-page screenshots (and two in dark mode) are kept under test-output/screenshots/ at the repository's root.
//
// Without a chromium binary the test is skipped, unless CI=true (.ci/run sets it and installs chromium): then it fails.
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { assert, describe, layer } from "@effect/vitest"
import { Effect } from "effect"
import puppeteer, { type Browser, type HTTPResponse, type Page } from "puppeteer-core"
import { afterAll } from "vitest"
import { TestNode, testNodeLayer } from "../support/TestNode.ts"
import { buildWorld, listedHosts, type Version, type World } from "./BrowserWorld.ts"

/** The chromium to drive: $CHROMIUM, else the first of Debian's and other distributions' names on PATH. */
const findChromium = (): string | undefined => {
  if (process.env.CHROMIUM !== undefined && process.env.CHROMIUM !== "") return process.env.CHROMIUM
  const dirs = (process.env.PATH ?? "").split(path.delimiter).filter((dir) => dir !== "")
  for (const name of ["chromium", "chromium-browser", "google-chrome-stable", "google-chrome"]) {
    for (const dir of dirs) {
      try {
        fs.accessSync(path.join(dir, name), fs.constants.X_OK)
        return path.join(dir, name)
      } catch {
        // not here
      }
    }
  }
  return undefined
}

const CHROMIUM = findChromium()
const IN_CI = process.env.CI === "true" || process.env.CI === "1"
if (CHROMIUM === undefined && !IN_CI) {
  console.warn(
    "Browser.test.ts skipped: no chromium on PATH (Debian: apt-get install --no-install-recommends chromium; " +
      ".ci/run installs it when run as root, and with CI=true the test fails without it)"
  )
}

const SCREENSHOTS = fileURLToPath(new URL("../../../../test-output/screenshots/", import.meta.url))

const WIDTHS = {
  desktop: { width: 1280, height: 900, isMobile: false, hasTouch: false, deviceScaleFactor: 1 },
  phone: { width: 390, height: 844, isMobile: true, hasTouch: true, deviceScaleFactor: 1 }
} as const
type Width = keyof typeof WIDTHS

/** The rows a page must show: these host names in its tables' bodies, and those nowhere on the page. */
interface Rows {
  readonly present: ReadonlyArray<string>
  readonly absent: ReadonlyArray<string>
}

interface PageCheck {
  /** Screenshots are <name>-<width>.png. */
  readonly name: string
  readonly path: string | ((world: World) => string)
  /** The answer's status; 200 unless a 404 page is the point. */
  readonly status?: number
  readonly rows?: (world: World) => Rows
  /** Text the page must contain. */
  readonly text?: (world: World) => ReadonlyArray<string>
  /** Why this page may scroll sideways as a whole (every other page keeps wide tables in their own scroll box). */
  readonly scrollsSideways?: string
}

const hostNames = (hosts: ReadonlyArray<{ readonly name: string }>) => hosts.map((h) => h.name)

/** The hosts of the scope listed, every other host of the world absent. */
const scopeRows =
  (scope: { readonly version?: Version; readonly country?: string } = {}) =>
  (world: World): Rows => {
    const listed = hostNames(listedHosts(world, scope))
    return { present: listed, absent: hostNames(world.hosts).filter((name) => !listed.includes(name)) }
  }

const hostNamed = (world: World, name: string) => world.hosts.find((h) => h.name === name)!
const repository = (world: World, version: Version, arch: string) =>
  world.repositories.find((r) => r.version === version && r.arch === arch)!

/** The day (UTC) of the world's newest access statistics. */
const today = () => new Date().toISOString().slice(0, 10)

/** Every public page, in the order a reader meets them. */
const PAGES: ReadonlyArray<PageCheck> = [
  { name: "home", path: "/", text: () => ["Mirrors", "Propagation", "Statistics"] },
  { name: "mirrors", path: "/mirrors", rows: scopeRows(), text: () => ["Fedora"] },
  { name: "mirrors-product", path: "/mirrors/Fedora", rows: scopeRows(), text: () => ["40", "41"] },
  // Version 40: the French mirror carries 41 only, so it is not listed here.
  { name: "mirrors-version", path: "/mirrors/Fedora/40", rows: scopeRows({ version: "40" }) },
  {
    name: "mirrors-arch",
    path: "/mirrors/Fedora/41/x86_64",
    rows: scopeRows({ version: "41" }),
    text: () => ["Example University", "rsync://mirror.example-university.de/fedora-linux"]
  },
  { name: "mirrors-country", path: "/mirrors/Fedora/41/x86_64?country=US", rows: scopeRows({ country: "US" }) },
  { name: "mirrors-unknown", path: "/mirrors/Nonesuch", status: 404, text: () => ["Nonesuch"] },
  {
    name: "host",
    path: (w) => `/mirrors/hosts/${hostNamed(w, "mirror.example-university.de").id}`,
    text: () => ["mirror.example-university.de", "Example University", "Germany", "Fedora Linux"]
  },
  // A public host up to date on nothing has its page, saying so.
  {
    name: "host-stale",
    path: (w) => `/mirrors/hosts/${hostNamed(w, "stale.exemple.fr").id}`,
    text: () => ["stale.exemple.fr", "nothing current"]
  },
  // The private host has no public page.
  { name: "host-private", path: (w) => `/mirrors/hosts/${hostNamed(w, "internal.example.org").id}`, status: 404 },
  { name: "propagation", path: "/propagation", text: () => ["fedora-40", "fedora-41", "Newest (same day)"] },
  {
    name: "propagation-repository",
    path: (w) => `/propagation/${repository(w, "41", "x86_64").id}`,
    text: () => ["fedora-41", "x86_64"]
  },
  { name: "propagation-unknown", path: "/propagation/999999", status: 404 },
  { name: "map", path: "/map", text: () => ["Germany", "France", "United States"] },
  { name: "statistics", path: "/statistics", text: () => ["Germany", "x86_64", "fedora-41"] },
  { name: "statistics-day", path: `/statistics/${today()}`, text: () => ["Germany (DE)", "aarch64", "fedora-40"] },
  {
    name: "statistics-kind",
    path: `/statistics/${today()}/countries`,
    text: () => ["Embargoed countries", "Denmark (DK)"]
  },
  { name: "statistics-bad-day", path: "/statistics/2001-02-30", status: 404 },
  // The API reference is its own plain page (admin/ApiDocs.ts), not the public pages' shell: its tables are as wide
  // as their longest path and schema.
  { name: "docs", path: "/docs", scrollsSideways: "the API reference's tables are not wrapped in a scroll box" }
]

interface Visit {
  readonly page: Page
  /** What went wrong while the page loaded: console errors and warnings, page errors, failed requests, ≥ 400. */
  readonly problems: Array<string>
}

/** Opens a page at a width, recording every problem from the first request on. */
const open = async (browser: Browser, width: Width, dark = false): Promise<Visit> => {
  const page = await browser.newPage()
  const problems: Array<string> = []
  page.on("console", (message) => {
    if (message.type() === "error" || message.type() === "warn") {
      problems.push(`console ${message.type()}: ${message.text()} (${message.location().url ?? ""})`)
    }
  })
  page.on("pageerror", (error) => problems.push(`page error: ${error instanceof Error ? error.message : error}`))
  page.on("requestfailed", (request) =>
    problems.push(`request failed: ${request.url()} (${request.failure()?.errorText ?? "?"})`)
  )
  page.on("response", (response) => {
    if (response.status() >= 400) problems.push(`${response.status()} for ${response.url()}`)
  })
  await page.setViewport(WIDTHS[width])
  if (dark) await page.emulateMediaFeatures([{ name: "prefers-color-scheme", value: "dark" }])
  return { page, problems }
}

/** Loads a path and waits until nothing more is asked for; the main answer. */
const load = async (visit: Visit, url: string): Promise<HTTPResponse> => {
  const response = await visit.page.goto(url, { waitUntil: "networkidle0", timeout: 30_000 })
  assert.isNotNull(response, `no answer for ${url}`)
  return response!
}

const screenshot = async (page: Page, file: string) => {
  fs.mkdirSync(SCREENSHOTS, { recursive: true })
  await page.screenshot({ path: path.join(SCREENSHOTS, file) as `${string}.png`, fullPage: true })
}

interface Structure {
  readonly lang: string
  readonly h1: number
  readonly title: string
  readonly tablesWithoutHeaders: number
  readonly scrollWidth: number
  readonly viewportWidth: number
  readonly wide: ReadonlyArray<string>
  readonly bodyRows: ReadonlyArray<string>
  readonly text: string
}

/** What the checks read off a loaded page. */
const structure = (page: Page): Promise<Structure> =>
  page.evaluate(() => {
    const viewportWidth = document.documentElement.clientWidth
    // Elements that stick out of the viewport (the cause when the page scrolls sideways), outside scroll boxes.
    const wide: Array<string> = []
    for (const element of Array.from(document.body.querySelectorAll("*"))) {
      const box = element.getBoundingClientRect()
      if (box.right <= viewportWidth + 1 || box.width === 0) continue
      let scrolled = false
      for (let up = element.parentElement; up !== null; up = up.parentElement) {
        const overflow = getComputedStyle(up).overflowX
        if (overflow === "auto" || overflow === "scroll" || overflow === "hidden") scrolled = true
      }
      if (!scrolled) {
        wide.push(`${element.tagName.toLowerCase()}${element.className ? `.${element.className}` : ""} (${box.right})`)
      }
    }
    return {
      lang: document.documentElement.lang,
      h1: document.querySelectorAll("h1").length,
      title: document.querySelector("h1")?.textContent ?? "",
      tablesWithoutHeaders: Array.from(document.querySelectorAll("table")).filter((t) => t.querySelector("th") === null)
        .length,
      scrollWidth: document.documentElement.scrollWidth,
      viewportWidth,
      wide: wide.slice(0, 5),
      // The text as rendered (innerText, not textContent): what a reader sees, without <title>s inside SVG.
      // biome-ignore lint/performance/useDomNodeTextContent: the visible text is what is checked
      bodyRows: Array.from(document.querySelectorAll("tbody tr")).map((tr) => (tr as HTMLElement).innerText),
      // biome-ignore lint/performance/useDomNodeTextContent: the visible text is what is checked
      text: document.body.innerText
    }
  })

/** The rows' order as host names: for each body row, the first host of the world it names. */
const rowHosts = (s: Structure, world: World): ReadonlyArray<string> =>
  s.bodyRows.flatMap((row) => {
    const found = world.hosts
      .map((h) => ({ name: h.name, at: row.indexOf(h.name) }))
      .filter((h) => h.at >= 0)
      .sort((a, b) => a.at - b.at)
    return found.length === 0 ? [] : [found[0]!.name]
  })

/** Scrolls every table or chart box that is wider than its room to its far end; what they hold and how wide. */
const scrollTablesToTheEnd = (page: Page): Promise<ReadonlyArray<string>> =>
  page.evaluate(() => {
    const wide = Array.from(document.querySelectorAll<HTMLElement>(".table-wrap, figure")).filter(
      (box) => box.scrollWidth > box.clientWidth + 1
    )
    for (const box of wide) box.scrollLeft = box.scrollWidth
    return wide.map(
      (box) =>
        `${box.querySelector("th")?.textContent ?? box.querySelector("figcaption")?.textContent ?? box.tagName}: ` +
        `${box.scrollWidth}px in ${box.clientWidth}px`
    )
  })

/** Every check of one page at one width; keeps the screenshot. */
const checkPage = async (browser: Browser, baseUrl: string, world: World, check: PageCheck, width: Width) => {
  const visit = await open(browser, width)
  try {
    const pagePath = typeof check.path === "string" ? check.path : check.path(world)
    const response = await load(visit, `${baseUrl}${pagePath}`)
    const where = `${pagePath} at ${width} width`
    const expected = check.status ?? 200
    assert.strictEqual(response.status(), expected, `${where}: status`)
    await screenshot(visit.page, `${check.name}-${width}.png`)
    // Tables wider than their box scroll inside it: one more screenshot with them scrolled to their far end. On a
    // desktop every table fits.
    const scrolled = await scrollTablesToTheEnd(visit.page)
    if (scrolled.length > 0) await screenshot(visit.page, `${check.name}-${width}-scrolled.png`)
    if (width === "desktop" && check.scrollsSideways === undefined) {
      assert.deepStrictEqual(scrolled, [], `${pagePath} at desktop width: tables or charts wider than the page`)
    }
    // A 404 page is meant: its own status (and the console's line about it) is not a problem; anything else is.
    const own = `${baseUrl}${pagePath}`
    const problems = visit.problems.filter(
      (p) =>
        !(
          expected >= 400 &&
          (p === `${expected} for ${own}` || (p.startsWith("console error") && p.endsWith(`(${own})`)))
        )
    )
    assert.deepStrictEqual(problems, [], `${where}: problems while loading`)
    const s = await structure(visit.page)
    assert.strictEqual(s.lang, "en", `${where}: <html lang>`)
    assert.strictEqual(s.h1, 1, `${where}: one h1`)
    assert.strictEqual(s.tablesWithoutHeaders, 0, `${where}: every table has th headers`)
    if (check.scrollsSideways === undefined) {
      assert.isAtMost(
        s.scrollWidth,
        s.viewportWidth,
        `${where}: the page scrolls sideways (${s.scrollWidth}px in ${s.viewportWidth}px); wide: ${s.wide.join(", ")}`
      )
    }
    for (const text of check.text?.(world) ?? []) assert.include(s.text, text, `${where}: text`)
    if (check.rows !== undefined) {
      const rows = check.rows(world)
      const shown = rowHosts(s, world)
      assert.sameMembers([...shown], [...rows.present], `${where}: the hosts listed`)
      for (const name of rows.absent) assert.notInclude(s.text, name, `${where}: ${name} is not shown`)
    }
  } finally {
    await visit.page.close()
  }
}

/** Clicks what `selector` finds and waits for the page it leads to; that page's answer. */
const follow = async (visit: Visit, selector: string): Promise<HTTPResponse> => {
  const [response] = await Promise.all([
    visit.page.waitForNavigation({ waitUntil: "networkidle0", timeout: 30_000 }),
    visit.page.click(selector)
  ])
  assert.isNotNull(response, `no page after clicking ${selector}`)
  return response!
}

/** The header link of a sortable column, by its label. */
const sortLink = async (page: Page, label: string): Promise<string> => {
  const href = await page.$$eval(
    "thead th a",
    (links, wanted) => links.find((a) => a.textContent?.trim().startsWith(wanted))?.getAttribute("href") ?? null,
    label
  )
  assert.isNotNull(href, `a sort link on the "${label}" column`)
  return href!
}

const ariaSort = (page: Page, label: string) =>
  page.$$eval(
    "thead th",
    (cells, wanted) => cells.find((th) => th.textContent?.trim().startsWith(wanted))?.getAttribute("aria-sort") ?? null,
    label
  )

/** The hosts a mirror list shows, in its order. */
const listed = async (page: Page, world: World) => rowHosts(await structure(page), world)

/** The mirror list used as a reader would: sort by a column, both ways; filter by country; open a host's page. */
const useMirrorList = async (browser: Browser, baseUrl: string, world: World, width: Width) => {
  const visit = await open(browser, width)
  try {
    const scope = "/mirrors/Fedora/41/x86_64"
    const inScope = listedHosts(world, { version: "41" })
    const byBandwidth = [...inScope].sort((a, b) => a.bandwidth - b.bandwidth).map((h) => h.name)
    const byCountry = [...inScope]
      .sort((a, b) => a.country.localeCompare(b.country) || a.name.localeCompare(b.name))
      .map((h) => h.name)
    const where = (step: string) => `${scope} at ${width} width, ${step}`

    await load(visit, `${baseUrl}${scope}`)
    assert.deepStrictEqual(await listed(visit.page, world), byCountry, where("first by country"))
    assert.strictEqual(await ariaSort(visit.page, "Country"), "ascending", where("Country is the order"))

    // Bandwidth, ascending, then (the same header again) descending.
    await follow(visit, `thead th a[href="${await sortLink(visit.page, "Bandwidth")}"]`)
    assert.deepStrictEqual(await listed(visit.page, world), byBandwidth, where("sorted by bandwidth"))
    assert.strictEqual(await ariaSort(visit.page, "Bandwidth"), "ascending", where("aria-sort"))
    assert.isNull(await ariaSort(visit.page, "Country"), where("Country is no longer the order"))
    await follow(visit, `thead th a[href="${await sortLink(visit.page, "Bandwidth")}"]`)
    assert.deepStrictEqual(
      await listed(visit.page, world),
      [...byBandwidth].reverse(),
      where("sorted by bandwidth, descending")
    )
    assert.strictEqual(await ariaSort(visit.page, "Bandwidth"), "descending", where("aria-sort descending"))

    // The country filter: choose the United States and submit; the order chosen stays.
    await visit.page.select("form.filter select[name=country]", "US")
    const filtered = await follow(visit, "form.filter button[type=submit]")
    const us = inScope
      .filter((h) => h.country === "US")
      .sort((a, b) => b.bandwidth - a.bandwidth)
      .map((h) => h.name)
    assert.deepStrictEqual(await listed(visit.page, world), us, where("only the United States"))
    const query = new URL(filtered.url()).searchParams
    assert.strictEqual(query.get("country"), "US", where("the filter is in the address"))
    assert.strictEqual(query.get("sort"), "-bandwidth", where("the order is kept"))
    for (const other of world.hosts.filter((h) => h.country !== "US")) {
      assert.notInclude((await structure(visit.page)).text, other.name, where(`${other.name} is filtered out`))
    }

    // A row's country link filters too: Germany.
    await follow(visit, "form.filter a")
    assert.sameMembers([...(await listed(visit.page, world))], byCountry, where("all countries again"))
    await follow(visit, 'tbody td a[href*="country=DE"]')
    assert.sameMembers(
      [...(await listed(visit.page, world))],
      inScope.filter((h) => h.country === "DE").map((h) => h.name),
      where("only Germany, from a row's country link")
    )

    // A host's name leads to its status page.
    const host = world.hosts.find((h) => h.name === "mirror.example-university.de")!
    const status = await follow(visit, `tbody a[href="/mirrors/hosts/${host.id}"]`)
    assert.strictEqual(status.status(), 200, where("the host's page"))
    const page = await structure(visit.page)
    assert.strictEqual(page.title.trim(), host.name, where("the host page's h1"))
    await screenshot(visit.page, `host-followed-${width}.png`)
    assert.deepStrictEqual(visit.problems, [], where("problems on the way"))
  } finally {
    await visit.page.close()
  }
}

/** Dark mode (prefers-color-scheme: dark): a screenshot to look at, and the same clean load. */
const darkScreenshot = async (browser: Browser, baseUrl: string, pagePath: string, name: string, width: Width) => {
  const visit = await open(browser, width, true)
  try {
    await load(visit, `${baseUrl}${pagePath}`)
    await screenshot(visit.page, `${name}-dark-${width}.png`)
    const background = await visit.page.evaluate(() => getComputedStyle(document.body).backgroundColor)
    assert.strictEqual(background, "rgb(13, 17, 23)", `${pagePath} in dark mode: the dark background`)
    assert.deepStrictEqual(visit.problems, [], `${pagePath} in dark mode: problems while loading`)
  } finally {
    await visit.page.close()
  }
}

let browser: Browser | undefined
let userDataDir: string | undefined

const launch = Effect.promise(async () => {
  if (CHROMIUM === undefined) {
    throw new Error("no chromium on PATH and CI=true: install Debian's chromium (.ci/run does, as root)")
  }
  if (browser !== undefined) return browser
  userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), "mm-chromium-"))
  browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    userDataDir,
    // Root in a closed network: no sandbox, and none of the background connections that would be refused.
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-dev-shm-usage"
    ]
  })
  return browser
})

afterAll(async () => {
  await browser?.close()
  if (userDataDir !== undefined) fs.rmSync(userDataDir, { recursive: true, force: true })
})

let world: World | undefined
const theWorld = Effect.suspend(() =>
  world === undefined ? Effect.tap(buildWorld, (built) => Effect.sync(() => (world = built))) : Effect.succeed(world)
)

describe.skipIf(CHROMIUM === undefined && !IN_CI)("public pages in a real browser", () => {
  layer(testNodeLayer(), { excludeTestServices: true })("over a small world", (it) => {
    it.effect(
      "every page loads cleanly at desktop and phone width, with the rows it should show",
      () =>
        Effect.gen(function* () {
          const node = yield* TestNode
          const w = yield* theWorld
          const b = yield* launch
          yield* Effect.promise(async () => {
            for (const check of PAGES) {
              for (const width of ["desktop", "phone"] as const) await checkPage(b, node.baseUrl, w, check, width)
            }
          })
        }),
      240_000
    )

    it.effect(
      "the mirror list: sort by a column, filter by country, open a host's page",
      () =>
        Effect.gen(function* () {
          const node = yield* TestNode
          const w = yield* theWorld
          const b = yield* launch
          yield* Effect.promise(async () => {
            for (const width of ["desktop", "phone"] as const) await useMirrorList(b, node.baseUrl, w, width)
          })
        }),
      120_000
    )

    it.effect(
      "the mirror list and the map in dark mode",
      () =>
        Effect.gen(function* () {
          const node = yield* TestNode
          yield* theWorld
          const b = yield* launch
          yield* Effect.promise(async () => {
            for (const width of ["desktop", "phone"] as const) {
              await darkScreenshot(b, node.baseUrl, "/mirrors/Fedora/41/x86_64", "mirrors-arch", width)
              await darkScreenshot(b, node.baseUrl, "/map", "map", width)
            }
          })
        }),
      120_000
    )
  })
})

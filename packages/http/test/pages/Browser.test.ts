// The public pages in a real browser (issue 16): Debian's chromium, driven by puppeteer-core (which downloads no
// browser), loads every page at a desktop and a phone width over a small world (BrowserWorld.ts). A page fails on a
// console error or warning, an uncaught error, a failed request or an answer of 400 or more; it must say its
// language, have one h1, headers on every table, no sideways scrolling of the whole page, and show exactly the hosts
// it should. Then the mirror list is used as a person would: a sort, the country filter, a host's own page.
// Full-page screenshots (and two in dark mode) are kept under test-output/screenshots/ at the repository's root.
//
// Without a chromium binary the test is skipped, unless CI=true (.ci/run sets it and installs chromium): then it fails.
import { execFileSync } from "node:child_process"
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
  for (const name of ["chromium", "chromium-browser", "google-chrome-stable", "google-chrome"]) {
    try {
      const found = execFileSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" }).trim()
      if (found !== "") return found
    } catch {
      // not on PATH
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
  // The private host has no public page.
  { name: "host-private", path: (w) => `/mirrors/hosts/${hostNamed(w, "internal.example.org").id}`, status: 404 },
  { name: "propagation", path: "/propagation", text: () => ["fedora-40", "fedora-41", "Newest (same day)"] },
  {
    name: "propagation-repository",
    path: (w) => `/propagation/${repository(w, "41", "x86_64").id}`,
    text: () => ["fedora-41", "x86_64"]
  },
  { name: "map", path: "/map", text: () => ["Germany", "France", "United States"] },
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
      180_000
    )
  })
})

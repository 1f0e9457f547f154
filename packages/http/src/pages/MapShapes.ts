// The world map's country shapes as SVG paths, built once per process on first use, on a worker thread (decoding the
// shapes takes a few hundred milliseconds that the redirector's event loop must not wait for): Natural Earth's 1:110m
// countries (public domain, from the world-atlas package, ISC) in the Natural Earth projection, without Antarctica.
// Countries too small for that scale (Singapore, Malta, Hong Kong, ...) get a point at their centroid from the 1:50m
// shapes. Countries are keyed by ISO 3166-1 alpha-2 (world-atlas keys them by ISO numeric).
import { createRequire } from "node:module"
import { Worker } from "node:worker_threads"
import { type GeoContext, type GeoPermissibleObjects, geoCentroid, geoNaturalEarth1, geoPath } from "d3-geo"
import { numericToAlpha2 } from "i18n-iso-countries/index.js"
import { feature } from "topojson-client"

export const MAP_ATTRIBUTION_HTML =
  'Country shapes: <a href="https://www.naturalearthdata.com/">Natural Earth</a> (public domain), 1:110m, via the ' +
  "<code>world-atlas</code> package (ISC). Borders are drawn as Natural Earth draws them."

export interface MapShapes {
  readonly width: number
  readonly height: number
  /** One entry per country, by code: its outline(s) as a path's `d`. */
  readonly paths: ReadonlyMap<string, string>
  /** Countries with no outline at this scale: where to put a point. */
  readonly points: ReadonlyMap<string, readonly [number, number]>
}

const WIDTH = 960
const ANTARCTICA = "010"

/** Shapes without an ISO numeric code in Natural Earth, by the code ISO 3166 (or common use, for XK) puts them in. */
const UNCODED: Record<string, string> = { Kosovo: "XK", "N. Cyprus": "CY", Somaliland: "SO" }

interface CountryFeature {
  readonly id?: string | number | undefined
  readonly properties: { readonly name?: string } | null
}

const codeOf = (f: CountryFeature): string | undefined =>
  (f.id === undefined ? undefined : numericToAlpha2(f.id)) ?? UNCODED[f.properties?.name ?? ""]

const countriesOf = (file: string) => {
  const topology = createRequire(import.meta.url)(`world-atlas/${file}`) as Parameters<typeof feature>[0]
  const countries = topology.objects.countries
  const decoded = countries === undefined ? undefined : feature(topology, countries)
  if (decoded === undefined || !("features" in decoded)) throw new Error(`world-atlas/${file}: no countries`)
  return decoded.features
}

/**
 * A path's `d` in whole pixels with relative moves (about 40 % of d3's absolute decimals). A ring that shrinks to
 * less than three distinct points at this scale is left out.
 */
const pathOf = (draw: (context: GeoContext) => void): string => {
  let out = ""
  let ring = ""
  let points = 0
  let x0 = 0
  let y0 = 0
  const flush = () => {
    if (points >= 3) out += `${ring}z`
    ring = ""
    points = 0
  }
  const context: GeoContext = {
    moveTo(x: number, y: number) {
      flush()
      x0 = Math.round(x)
      y0 = Math.round(y)
      ring = `M${x0} ${y0}`
      points = 1
    },
    lineTo(x: number, y: number) {
      const x1 = Math.round(x)
      const y1 = Math.round(y)
      if (x1 === x0 && y1 === y0) return
      const dy = y1 - y0
      ring += `l${x1 - x0}${dy < 0 ? "" : " "}${dy}`
      x0 = x1
      y0 = y1
      points++
    },
    closePath() {
      flush()
    },
    beginPath() {},
    arc() {}
  }
  draw(context)
  flush()
  return out
}

/** The shapes, built here and now (on the worker thread: see `loadMapShapes`). */
export const buildMapShapes = (): MapShapes => {
  const shapes = countriesOf("countries-110m.json").filter((f) => f.id !== ANTARCTICA)
  const collection = { type: "FeatureCollection", features: shapes } as GeoPermissibleObjects
  const projection = geoNaturalEarth1().fitWidth(WIDTH, collection)
  const [[, top], [, bottom]] = geoPath(projection).bounds(collection)
  const height = Math.ceil(bottom - top)
  const paths = new Map<string, string>()
  for (const shape of shapes) {
    const code = codeOf(shape)
    if (code === undefined) continue
    const d = pathOf((context) => geoPath(projection, context)(shape))
    if (d !== "") paths.set(code, (paths.get(code) ?? "") + d)
  }
  const points = new Map<string, readonly [number, number]>()
  for (const shape of countriesOf("countries-50m.json")) {
    const code = codeOf(shape)
    if (code === undefined || code === "AQ" || paths.has(code) || points.has(code)) continue
    const at = projection(geoCentroid(shape))
    if (at === null || at[1] < 0 || at[1] > height) continue
    points.set(code, [Math.round(at[0] * 10) / 10, Math.round(at[1] * 10) / 10])
  }
  return { width: WIDTH, height, paths, points }
}

/** What the worker sends back: the shapes as plain arrays. */
export interface MapShapesMessage {
  readonly width: number
  readonly height: number
  readonly paths: ReadonlyArray<readonly [string, string]>
  readonly points: ReadonlyArray<readonly [string, readonly [number, number]]>
}

let built: Promise<MapShapes> | undefined

/**
 * The shapes, built once by a worker thread on the first call (the data files are read then, and only then). A
 * failed build is tried again on the next call.
 */
export const loadMapShapes = (): Promise<MapShapes> => {
  built ??= new Promise<MapShapes>((resolve, reject) => {
    const worker = new Worker(new URL("./MapShapesWorker.ts", import.meta.url))
    worker.once("message", (message: MapShapesMessage) => {
      resolve({
        width: message.width,
        height: message.height,
        paths: new Map(message.paths),
        points: new Map(message.points)
      })
      void worker.terminate()
    })
    worker.once("error", reject)
    worker.once("exit", (code) => reject(new Error(`the map's shapes were not built (worker exit ${code})`)))
  }).catch((error: unknown) => {
    built = undefined
    throw error
  })
  return built
}

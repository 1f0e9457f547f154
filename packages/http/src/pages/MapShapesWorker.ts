// The map's shapes built on a worker thread (see MapShapes.ts), sent back once as plain arrays.
import { parentPort } from "node:worker_threads"
import { buildMapShapes, type MapShapesMessage } from "./MapShapes.ts"

const shapes = buildMapShapes()
const message: MapShapesMessage = {
  width: shapes.width,
  height: shapes.height,
  paths: [...shapes.paths],
  points: [...shapes.points]
}
parentPort?.postMessage(message)

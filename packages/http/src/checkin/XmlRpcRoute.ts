// `POST /xmlrpc`, where report_mirror checks in (docs/checkin.md#protocol): malformed calls get XML-RPC faults,
// everything else a string the client prints. Always HTTP 200 with text/xml, as the upstream client expects. The body
// is read on a worker thread (CheckinDecoder), its paths looked up in the categories' directory numbers
// (CategoryNumbers); the route brings both along: nothing else needs to provide them.
import { CategoryNumbers, Checkins } from "@mirrormanager/actors/checkin"
import { until, within } from "@mirrormanager/actors/db"
import { Readiness } from "@mirrormanager/actors/health"
import { CheckinReplies, XmlRpcFaultCodes } from "@mirrormanager/domain/checkin"
import { ByteSize, Effect, Layer, Option, Semaphore } from "effect"
import { HttpIncomingMessage, HttpRouter, HttpServerRequest, HttpServerResponse } from "effect/http"
import { CHECKIN_DECODER_OPTIONS, CheckinDecoder, type CheckinDecoderOptions } from "./CheckinDecoder.ts"
import { faultResponse, methodResponse } from "./XmlRpc.ts"

/** The largest request body read (docs/checkin.md#limits); a larger one is refused unread. */
export const XMLRPC_MAX_BODY_BYTES = 8 * 1024 * 1024

export const XMLRPC_PATH = "/xmlrpc"

const xml = (body: string) => HttpServerResponse.text(body, { contentType: "text/xml; charset=utf-8" })
const fault = (faultCode: number, faultString: string) => xml(faultResponse({ faultCode, faultString }))
const tooLarge = () => fault(XmlRpcFaultCodes.invalidRequest, `the request body exceeds ${XMLRPC_MAX_BODY_BYTES} bytes`)

/**
 * Check-ins read and applied at once (docs/checkin.md#limits): reading one is a decoding thread's tens of megabytes
 * and applying it a database transaction, so the others wait as the bytes they came as, at most
 * CHECKINS_WAITING_BYTES of them (then "server busy"), and memory stays bounded however many mirrors check in at the
 * same moment.
 */
const CHECKINS_IN_HAND = 4
const CHECKINS_WAITING_BYTES = 128 * 1024 * 1024

/** The check-ins waiting for their turn, and their bytes. */
interface Waiting {
  bytes: number
}

const checkin = (
  decoder: CheckinDecoder["Service"],
  numbers: CategoryNumbers["Service"],
  inHand: Semaphore.Semaphore,
  waiting: Waiting
) =>
  Effect.gen(function* () {
    const request = yield* HttpServerRequest.HttpServerRequest
    if (Number(request.headers["content-length"] ?? 0) > XMLRPC_MAX_BODY_BYTES) return tooLarge()
    const body = yield* request.text.pipe(
      Effect.provideService(HttpIncomingMessage.MaxBodySize, ByteSize.bytes(XMLRPC_MAX_BODY_BYTES)),
      Effect.option
    )
    // A body cut short by the limit, or not read at all.
    if (Option.isNone(body)) return tooLarge()
    // The client as MM_TRUSTED_PROXIES says (see withClientAddress), which failed logins are limited by.
    const address = Option.getOrUndefined(request.remoteAddress)
    const size = body.value.length
    if (waiting.bytes + size > CHECKINS_WAITING_BYTES) {
      yield* Effect.logWarning("check-in refused: too many check-ins waiting").pipe(
        Effect.annotateLogs({ address, waitingBytes: waiting.bytes })
      )
      return fault(XmlRpcFaultCodes.serverBusy, "server busy, try again later")
    }
    waiting.bytes += size
    let counted = true
    // Its bytes stop counting when its turn comes, or when it is withdrawn while it waits.
    const taken = Effect.sync(() => {
      if (counted) waiting.bytes -= size
      counted = false
    })
    return yield* inHand
      .withPermits(1)(Effect.andThen(taken, readAndApply(decoder, numbers, body.value, address)))
      .pipe(Effect.ensuring(taken))
  })

/** The categories' directory numbers not known within this (the database slow or unreachable): the check-in fails. */
const NUMBERS_TIMEOUT = "30 seconds"

/** One check-in's body read (on a worker) and applied. */
const readAndApply = (
  decoder: CheckinDecoder["Service"],
  categoryNumbers: CategoryNumbers["Service"],
  body: string,
  address: string | undefined
) =>
  Effect.gen(function* () {
    const readiness = yield* Readiness
    const loaded = yield* categoryNumbers.current.pipe(
      within(NUMBERS_TIMEOUT),
      until(readiness.unreachable),
      Effect.map(Option.flatten),
      Effect.result
    )
    if (loaded._tag === "Failure" || Option.isNone(loaded.success)) {
      yield* (
        loaded._tag === "Failure"
          ? Effect.logError("check-in not read: the categories' directories could not be loaded", loaded.failure)
          : Effect.logWarning("check-in not read: the registry database did not answer")
      ).pipe(Effect.annotateLogs({ address }))
      return xml(methodResponse(CheckinReplies.failure))
    }
    const decoded = yield* decoder.decode(body, loaded.success.value).pipe(Effect.result)
    if (decoded._tag === "Failure") {
      const failure = decoded.failure
      if (failure._tag === "CheckinDecoderBusy") {
        yield* Effect.logWarning("check-in refused: too many check-ins waiting to be read").pipe(
          Effect.annotateLogs({ address, queued: failure.queued })
        )
        return fault(XmlRpcFaultCodes.serverBusy, "server busy, try again later")
      }
      yield* Effect.logError("check-in not read: its worker failed").pipe(
        Effect.annotateLogs({ address, reason: failure.reason })
      )
      return xml(methodResponse(CheckinReplies.failure))
    }
    const call = decoded.success
    if (call._tag === "Fault") return xml(faultResponse(call.fault))
    if (call._tag === "Invalid") {
      yield* Effect.logWarning("check-in payload refused").pipe(Effect.annotateLogs({ address, reason: call.reason }))
      return xml(methodResponse(CheckinReplies.invalidConfig))
    }
    const checkins = yield* Checkins
    // A check-in waiting for a database found unreachable is answered as failed (the client tries again later).
    const reply = yield* checkins.checkIn(call.report, { address }).pipe(until(readiness.unreachable))
    if (Option.isNone(reply)) {
      yield* Effect.logWarning("check-in not applied: the registry database is unreachable").pipe(
        Effect.annotateLogs({ site: call.report.siteName, host: call.report.hostName })
      )
      return xml(methodResponse(CheckinReplies.failure))
    }
    return xml(methodResponse(reply.value))
  })

/**
 * The route with its own CheckinDecoder (workers end when the server's layer closes) and the categories' directory
 * numbers its workers look paths up in.
 */
export const xmlRpcRoute = (options: CheckinDecoderOptions = CHECKIN_DECODER_OPTIONS) =>
  HttpRouter.use((router) =>
    Effect.gen(function* () {
      const decoder = yield* CheckinDecoder
      const numbers = yield* CategoryNumbers
      const inHand = yield* Semaphore.make(CHECKINS_IN_HAND)
      yield* router.add("POST", XMLRPC_PATH, checkin(decoder, numbers, inHand, { bytes: 0 }))
    })
  ).pipe(Layer.provide(Layer.mergeAll(CheckinDecoder.layer(options), CategoryNumbers.layer)))

export const XmlRpcRoute = xmlRpcRoute()

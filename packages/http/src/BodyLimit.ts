// Refuses request bodies above a limit with 413, whether announced by Content-Length or streamed.
import { PayloadTooLarge } from "@mirrormanager/domain/Errors"
import { ByteSize, Effect } from "effect"
import { HttpIncomingMessage, HttpRouter, HttpServerRequest, HttpServerRespondable } from "effect/http"

export const bodyLimit = (maxBytes: number) =>
  HttpRouter.middleware(
    (httpEffect) =>
      Effect.gen(function* () {
        const request = yield* HttpServerRequest.HttpServerRequest
        const tooLarge = new PayloadTooLarge({ detail: `request body exceeds the limit of ${maxBytes} bytes` })
        const announced = Number(request.headers["content-length"] ?? 0)
        if (announced > maxBytes) return yield* HttpServerRespondable.toResponse(tooLarge)
        return yield* httpEffect.pipe(
          Effect.provideService(HttpIncomingMessage.MaxBodySize, ByteSize.bytes(maxBytes)),
          Effect.catchCause((cause) =>
            String(cause).includes("maxBytes") || String(cause).includes("exceeds")
              ? HttpServerRespondable.toResponse(tooLarge)
              : Effect.failCause(cause)
          )
        )
      }),
    { global: true }
  )

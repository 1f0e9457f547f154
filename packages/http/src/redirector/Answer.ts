// What the redirector answers a request: status, headers and body ready to send, and the fields of its access-log line.
import type { Endpoint } from "@mirrormanager/actors/redirector"

export type { Endpoint }

export interface Answer {
  readonly endpoint: Endpoint
  readonly status: number
  readonly headers: Record<string, string | ReadonlyArray<string>>
  /** Ready to send, in one or more chunks (text goes as UTF-8). */
  readonly body: ReadonlyArray<string | Buffer>
  /** For the access log. */
  readonly log: AccessFields
}

export interface AccessFields {
  client: string | undefined
  country: string | undefined
  readonly repo: string | undefined
  readonly arch: string | undefined
  readonly path: string | undefined
  hosts: number
  readonly countme: string | undefined
  result: string
}

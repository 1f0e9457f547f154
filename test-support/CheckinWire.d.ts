/** The payload of a config (a JSON object as the client builds it): URL-safe base64 of bz2 of `json.dumps`. */
export declare const checkinPayload: (config: unknown) => string
/** URL-safe base64 of bz2 of any bytes (for payloads no client would send). */
export declare const bz2Payload: (bytes: Buffer) => string
/** An XML-RPC method call body, as xmlrpc.client writes it. */
export declare const methodCallBody: (method: string, params: ReadonlyArray<unknown>) => string
/** What xmlrpc.client makes of a response body: `{ value }` or `{ fault: [code, string] }`. */
export declare const readResponseAsPython: (body: string) => {
  value?: unknown
  fault?: [number, string]
}

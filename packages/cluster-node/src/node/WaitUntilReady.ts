// Waiting for a node started by a local cluster, the demo or a test to answer its readiness probe.

export interface WaitUntilReadyOptions {
  /** The readiness statuses waited for (default: "ready"; "degraded" serves a snapshot while the database is away). */
  readonly accept?: ReadonlyArray<string>
  /** Asked after each answer that is not yet accepted: true gives up at once (the node exited, say). */
  readonly giveUp?: () => boolean
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** The status /healthz/ready reports with a 200, or undefined (another answer, none within 2 s, no connection). */
const readiness = (url: string) =>
  fetch(`${url}/healthz/ready`, { signal: AbortSignal.timeout(2_000) }).then(
    async (response) => (response.status === 200 ? ((await response.json()) as { status?: string }).status : undefined),
    () => undefined
  )

/**
 * Polls `url`'s /healthz/ready until its status is accepted: true; false once `deadline` (epoch milliseconds) has
 * passed or `giveUp` says so.
 */
export const waitUntilReady = async (url: string, deadline: number, options: WaitUntilReadyOptions = {}) => {
  const accept = options.accept ?? ["ready"]
  for (;;) {
    const status = await readiness(url)
    if (status !== undefined && accept.includes(status)) return true
    if (options.giveUp?.() === true || Date.now() > deadline) return false
    await sleep(250)
  }
}

// The child side of the tests that talk to their child processes over IPC (the parent side is
// `nextMessage` in _built.ts): one loop instead of a copy in every child script.
// A plain .mjs so that children, which run the BUILT packages under plain node, can import it.

/**
 * Answers the parent: every message goes to `handle`, whose result is sent back; the message
 * `{ type: 'exit' }` runs `onExit` and closes the channel so the child can end. Sends
 * `{ ready: true }` once it listens.
 *
 * @param {(message: any) => unknown} handle
 * @param {{ onExit?: () => unknown }} [options]
 */
export function serveParent(handle, options = {}) {
  process.on('message', async (message) => {
    if (message?.type === 'exit') {
      await options.onExit?.()
      process.disconnect()
      return
    }
    process.send(await handle(message))
  })
  process.send({ ready: true })
}

/**
 * Runs `count` calls of `getToken` at once and answers what they got: the tokens of the calls
 * that succeeded and, for those that failed, each error's code and message.
 *
 * @param {number} count
 * @param {() => Promise<string>} getToken
 * @returns {Promise<{ tokens: string[], errors: string[] }>}
 */
export async function concurrentTokens(count, getToken) {
  const results = await Promise.allSettled(Array.from({ length: count }, () => getToken()))
  return {
    tokens: results.filter((r) => r.status === 'fulfilled').map((r) => r.value),
    errors: results
      .filter((r) => r.status === 'rejected')
      .map((r) => `${r.reason?.code ?? ''} ${r.reason?.message ?? r.reason}`),
  }
}

/**
 * A clock for a child's store that the parent moves forward: `clock()` is now plus the offset
 * the last `clock.shift(seconds)` set (0 at first).
 *
 * @returns {(() => number) & { shift(seconds: number): void }}
 */
export function shiftedClock() {
  let offsetMs = 0
  const clock = () => Date.now() + offsetMs
  clock.shift = (seconds) => {
    offsetMs = seconds * 1000
  }
  return clock
}

/**
 * The child side of a cross-process refresh round (the parent side is `tokenRound` in
 * _built.ts): for each message `{ offsetSeconds, calls }` it moves `clock` to `offsetSeconds`
 * from now and answers `concurrentTokens(calls, getToken)`.
 *
 * @param {ReturnType<typeof shiftedClock>} clock
 * @param {() => Promise<string>} getToken
 * @param {{ onExit?: () => unknown }} [options]
 */
export function serveTokenRounds(clock, getToken, options) {
  serveParent(async (message) => {
    clock.shift(message.offsetSeconds)
    return concurrentTokens(message.calls, getToken)
  }, options)
}

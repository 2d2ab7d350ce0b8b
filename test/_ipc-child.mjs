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

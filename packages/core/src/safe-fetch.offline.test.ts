// The SSRF table once more, through the public `safeFetch` with its REAL transport, in a
// process that has no network at all: this file re-runs itself under `unshare -n` (a new,
// empty network namespace; Linux, root). Names still go to the table resolver, as the issue
// asks. A URL the policy wrongly accepted would try a real connection there, fail with a
// network error instead of the policy's own code, and fail the test — and no packet could
// leave this machine even then.
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { rerunTestFile } from '../../../test/_rerun.js'
import { _resolver, hostile } from './_ssrf-table.js'
import { KEYWARD_FETCH_NETWORK, KeywardError } from './errors.js'
import { safeFetch } from './safe-fetch.js'

const run = promisify(execFile)
const inNamespace = process.env.KEYWARD_SSRF_OFFLINE === '1'

async function canUnshare(): Promise<string | null> {
  if (process.platform !== 'linux') return 'network namespaces exist only on Linux'
  try {
    await run('unshare', ['-n', 'true'])
    return null
  } catch (error) {
    return `\`unshare -n\` is not usable here (${(error as Error).message.split('\n')[0]})`
  }
}

if (inNamespace) {
  describe('safeFetch SSRF table with the real transport and no network', () => {
    it('has no route off this machine', async () => {
      const { networkInterfaces } = await import('node:os')
      const up = Object.entries(networkInterfaces()).filter(([name]) => name !== 'lo')
      expect(up).toEqual([])
    })

    // Regression: the pinned lookup once answered synchronously, so a connect error that the
    // kernel reports at once (ENETUNREACH here) reached the socket before the request listened,
    // went unhandled and crashed the process. vitest fails the run on such an error.
    it('a connection that cannot be made is KEYWARD_FETCH_NETWORK, not a crash', async () => {
      const error = await safeFetch('https://public.example/', undefined, {
        resolve: _resolver,
        timeoutMs: 2000,
      }).catch((e: unknown) => e)
      expect((error as KeywardError).code).toBe(KEYWARD_FETCH_NETWORK)
      await new Promise((resolve) => setTimeout(resolve, 50))
    })

    it.each(hostile)('refuses %s with %s', async (url, code) => {
      const error = await safeFetch(url, undefined, { resolve: _resolver, timeoutMs: 2000 }).catch(
        (e: unknown) => e,
      )
      expect(KeywardError.isInstance(error), String(error)).toBe(true)
      expect((error as KeywardError).code).toBe(code)
    })
  })
} else {
  const unavailable = await canUnshare()
  if (unavailable && process.env.CI)
    throw new Error(`CI: the offline SSRF run needs it: ${unavailable}`)
  if (unavailable) console.warn(`skipping the offline SSRF run: ${unavailable}`)

  describe.skipIf(unavailable !== null)(
    'safeFetch SSRF table in a process without a network',
    () => {
      it('every hostile URL is refused with the policy code under `unshare -n`', async () => {
        const { output, passed } = await rerunTestFile(
          import.meta.url,
          ['unshare', '-n'],
          { KEYWARD_SSRF_OFFLINE: '1' },
          'the offline run',
        )
        expect(passed, output).toBe(hostile.length + 2)
        expect(output).not.toMatch(/failed|skipped/)
      })
    },
  )
}

// The root test kit's throwaway PostgreSQL cluster: it starts on 127.0.0.1, answers queries,
// and leaves nothing behind when stopped.
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { postgresBinDir, postgresTestEnv, startPostgres } from './_postgres.js'

const run = promisify(execFile)
const env = postgresTestEnv('test kit PostgreSQL')

describe.skipIf(!env.available)('startPostgres (test kit)', () => {
  it('starts a private cluster on 127.0.0.1 that answers queries, and removes it on stop', async () => {
    const cluster = await startPostgres()
    let stopped = false
    try {
      expect(cluster.url).toBe(`postgres://postgres@127.0.0.1:${cluster.port}/postgres`)
      const bundled = join(postgresBinDir()!, 'psql')
      const psql = existsSync(bundled) ? bundled : 'psql'
      const { stdout } = await run(psql, [
        cluster.url,
        '-At',
        '-c',
        'select 40 + 2, pg_try_advisory_xact_lock(7)',
      ])
      expect(stdout.trim()).toBe('42|t')
      await cluster.stop()
      stopped = true
      expect(existsSync(cluster.dir)).toBe(false)
      await expect(run(psql, [cluster.url, '-At', '-c', 'select 1'])).rejects.toThrow()
    } finally {
      if (!stopped) await cluster.stop()
    }
  })
})

// A throwaway PostgreSQL cluster for tests that need a real server (the postgres driver, and
// later the AuthStore and integrations on it): initdb in a temp directory, pg_ctl start on
// 127.0.0.1 with a free port and trust authentication, stopped and removed by `stop()`. No
// system service is used. initdb refuses to run as root: as root the cluster runs as the
// `postgres` user (Debian's package creates it).
//
// Gate: with CI set a missing server fails the test file; locally it skips with the reason.
import { execFile } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import { chmod, chown, mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)

/** The clusters started in this process and not stopped yet (see `stopAllPostgres`). */
const running = new Set<PostgresCluster>()

/** A running throwaway cluster. */
export interface PostgresCluster {
  /** `postgres://postgres@127.0.0.1:<port>/postgres` */
  readonly url: string
  readonly port: number
  /** Where its data, socket and log live (removed by `stop`). */
  readonly dir: string
  /** Stops the server (immediate shutdown) and removes its directory. */
  stop(): Promise<void>
}

/** The directory of the newest installed PostgreSQL server binaries, or `undefined`. */
export function postgresBinDir(): string | undefined {
  const root = '/usr/lib/postgresql'
  if (!existsSync(root)) return undefined
  const versions = readdirSync(root)
    .filter((v) => /^\d+$/.test(v) && existsSync(join(root, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a))
  return versions[0] === undefined ? undefined : join(root, versions[0], 'bin')
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0))
    })
  })
}

/**
 * Whether a PostgreSQL server can be started here; when it cannot: with `CI` set it throws, so
 * the test file fails; locally it prints why and the caller skips (`describe.skipIf`).
 */
export function postgresTestEnv(what = 'PostgreSQL'): { available: boolean; reason: string } {
  const bin = postgresBinDir()
  if (bin !== undefined) return { available: true, reason: `server binaries in ${bin}` }
  const reason = `${what} tests need a PostgreSQL server (Debian package postgresql: initdb and pg_ctl under /usr/lib/postgresql/<version>/bin)`
  if (process.env.CI) throw new Error(`CI: ${reason}; .ci/run installs it`)
  process.stderr.write(`skipping: ${reason}\n`)
  return { available: false, reason }
}

/** Starts a throwaway cluster (see the module comment). Throws when it cannot. */
export async function startPostgres(): Promise<PostgresCluster> {
  const bin = postgresBinDir()
  if (bin === undefined) throw new Error('no PostgreSQL server binaries (Debian: postgresql)')
  const dir = await mkdtemp(join(tmpdir(), 'keyward-pg-'))
  const asRoot = typeof process.getuid === 'function' && process.getuid() === 0
  const as = async (command: string, args: string[]) =>
    asRoot
      ? run('runuser', ['-u', 'postgres', '--', join(bin, command), ...args])
      : run(join(bin, command), args)
  try {
    if (asRoot) {
      const { uid, gid } = await run('id', ['-u', 'postgres']).then(async ({ stdout }) => ({
        uid: Number(stdout.trim()),
        gid: Number((await run('id', ['-g', 'postgres'])).stdout.trim()),
      }))
      await chown(dir, uid, gid)
    }
    await chmod(dir, 0o700)
    const data = join(dir, 'data')
    await as('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8'])
    let lastError: unknown
    for (let attempt = 0; attempt < 3; attempt++) {
      const port = await freePort()
      try {
        await as('pg_ctl', [
          '-D',
          data,
          '-l',
          join(dir, 'log'),
          '-w',
          '-t',
          '60',
          '-o',
          `-k ${dir} -p ${port} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`,
          'start',
        ])
        const cluster: PostgresCluster = {
          url: `postgres://postgres@127.0.0.1:${port}/postgres`,
          port,
          dir,
          stop: async () => {
            running.delete(cluster)
            await as('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => {})
            await rm(dir, { recursive: true, force: true })
          },
        }
        running.add(cluster)
        return cluster
      } catch (error) {
        lastError = error // most likely the port was taken meanwhile: try another
      }
    }
    throw lastError
  } catch (error) {
    await rm(dir, { recursive: true, force: true })
    throw error
  }
}

/**
 * Stops every cluster this process started and has not stopped: the teardown of every test file
 * (test/_teardown.ts) calls it, so a test that failed or timed out before its own `stop()` leaves
 * no server behind (pg_ctl detaches the server from the test's process tree).
 */
export async function stopAllPostgres(): Promise<void> {
  await Promise.all([...running].map((cluster) => cluster.stop()))
}

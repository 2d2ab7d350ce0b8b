import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { envKey } from '@keyward/core'
import { expectNoLeak, recordingLogger } from '@keyward/core/testing'
import { freshTable, onPostgres, postgresTableDriver } from '../../../test/_driver.js'
import { openVault, type Vault } from './index.js'

/** A canary value: it must never appear in an error, log line, event or `list` output. */
export const CANARY = `canary-${randomBytes(6).toString('hex')}-do-not-leak`

export interface _TempVault {
  readonly vault: Vault
  readonly dir: string
  readonly path: string
  readonly keyText: string
  /** Every line the vault logged (`<level> <message> <fields as JSON>`). */
  readonly logs: string[]
  reopen(): Promise<Vault>
  cleanup(): Promise<void>
}

/**
 * A vault in a fresh temp dir: the file driver with a random key from an env object; on the
 * suite's PostgreSQL (test/_driver.ts) a table of its own instead, unless `driver: 'file'` (tests
 * of the file's bytes). `reopen` opens the same store again, as another instance would.
 */
export async function _tempVault(options: { driver?: 'file' } = {}): Promise<_TempVault> {
  const dir = await mkdtemp(join(tmpdir(), 'keyward-vault-'))
  const path = join(dir, 'vault.kwd')
  const keyText = randomBytes(32).toString('base64')
  const logger = recordingLogger()
  const table = onPostgres && options.driver !== 'file' ? freshTable() : undefined
  const open = () =>
    table === undefined
      ? openVault({ path, key: envKey('KEYWARD_KEY', { env: { KEYWARD_KEY: keyText } }), logger })
      : openVault({ driver: postgresTableDriver(table), logger })
  const opened: Vault[] = [await open()]
  return {
    vault: opened[0]!,
    dir,
    path,
    keyText,
    get logs() {
      return logger.lines.map((line) => line.text)
    },
    async reopen() {
      const v = await open()
      opened.push(v)
      return v
    },
    async cleanup() {
      for (const v of opened) await v.close()
      await rm(dir, { recursive: true, force: true })
    },
  }
}

/** The collection `my-saas` with the environments `dev` and `prod`. */
export async function _saas(vault: Vault): Promise<void> {
  await vault.collections.create({ slug: 'my-saas' })
  await vault.environments.create({ collection: 'my-saas', slug: 'dev' })
  await vault.environments.create({ collection: 'my-saas', slug: 'prod' })
}

/**
 * Creates string secrets, in order, in `where` (`collection` or `collection/environment`);
 * returns each one's id by name.
 */
export async function _put<Name extends string>(
  vault: Vault,
  where: string,
  values: Readonly<Record<Name, string>>,
): Promise<Record<Name, string>> {
  const [collection = '', environment] = where.split('/')
  const ids: Record<string, string> = {}
  for (const [name, value] of Object.entries<string>(values)) {
    const place = environment === undefined ? { collection } : { collection, environment }
    ids[name] = (await vault.secrets.create({ ...place, name, value })).id
  }
  return ids as Record<Name, string>
}

/** Asserts that nothing printable about each value (message, stack, cause chain, inspect, JSON) contains `secret`. */
export function _assertNoLeak(values: readonly unknown[], secret: string = CANARY): void {
  for (const value of values) expectNoLeak(value, secret)
}

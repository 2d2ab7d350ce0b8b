import { randomBytes } from 'node:crypto'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { keyringKey } from '@keyward/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { keyringTestEnv } from '../../../test/_keyring.js'
import { CANARY } from './_helpers.js'
import { openVault } from './index.js'

const { available } = await keyringTestEnv({ what: 'vault keyring' })

describe.skipIf(!available)('a vault keyed in the real OS keyring (Secret Service)', () => {
  const service = `keyward-vault-test-${randomBytes(4).toString('hex')}`
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'keyward-vault-keyring-'))
  })
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
    // Remove the throwaway key entry (the native binding is core's optional peer dependency).
    const native = (await import('@napi-rs/keyring')) as unknown as {
      AsyncEntry: new (s: string, a: string) => { deletePassword(): Promise<boolean> }
    }
    await new native.AsyncEntry(service, 'vault-key').deletePassword().catch(() => false)
  })

  it('creates its key in the keyring on first open and opens with it again', async () => {
    const path = join(dir, 'vault.kwd')
    const key = () => keyringKey({ service, account: 'vault-key', lockDir: dir })
    const vault = await openVault({ path, key: key() })
    await vault.collections.create({ slug: 'app' })
    const { id } = await vault.secrets.create({ collection: 'app', name: 'TOKEN', value: CANARY })
    await vault.close()
    expect((await readFile(path)).includes(Buffer.from(CANARY))).toBe(false)
    const again = await openVault({ path, key: key() })
    expect((await again.secrets.get(id)).value).toBe(CANARY)
    await again.close()
    const wrong = await openVault({
      path,
      key: keyringKey({ service: `${service}-other`, lockDir: dir }),
    }).then(
      () => null,
      (e: { code?: string }) => e.code,
    )
    expect(wrong).toBe('KEYWARD_WRONG_KEY')
  })
})

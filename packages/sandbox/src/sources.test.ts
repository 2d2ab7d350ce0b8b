import { randomUUID } from 'node:crypto'
import { keyringDriver } from '@keyward/core/drivers/keyring'
import { describe, expect, it } from 'vitest'
import { keyringTestEnv } from '../../../test/_keyring.js'
import { envSource, keyringSource } from './sources.js'

describe('envSource', () => {
  it('reads only the keys asked for, own properties only, at resolve time', async () => {
    const env: Record<string, string | undefined> = { A: 'a-value', B: undefined }
    const source = envSource(env)
    env.C = 'set-later'
    const found = await source.resolve(['A', 'B', 'C', 'toString', '__proto__', 'constructor'])
    expect([...found]).toEqual([
      ['A', 'a-value'],
      ['C', 'set-later'],
    ])
  })
})

const keyring = await keyringTestEnv({ what: 'keyringSource (SYSTEM)' })

describe.skipIf(!keyring.available)('keyringSource (real OS keyring)', () => {
  it('reads values kept in the OS keyring under its service; absent keys are absent', async () => {
    const service = `keyward-sandbox-test-${randomUUID()}`
    const driver = keyringDriver({ service })
    await driver.set('CLOCKIFY_API_KEY', new TextEncoder().encode('from-the-keyring'))
    try {
      const found = await keyringSource({ service }).resolve(['CLOCKIFY_API_KEY', 'ABSENT'])
      expect([...found]).toEqual([['CLOCKIFY_API_KEY', 'from-the-keyring']])
    } finally {
      await driver.delete('CLOCKIFY_API_KEY')
    }
  })
})

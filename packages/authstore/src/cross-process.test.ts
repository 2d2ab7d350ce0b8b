import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { envKey } from '@keyward/core'
import { fileDriver } from '@keyward/core/drivers/file'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { tokenRound } from '../../../test/_built.js'
import { useRaceChildren } from '../../../test/_race.js'
import { _startTokenServer, type TokenServer } from './_token-server.js'
import { AuthStore } from './index.js'

const PROCESSES = 8
const CALLS = 50

const race = useRaceChildren({
  packages: ['core', 'authstore'],
  child: new URL('./_cross-process-child.mjs', import.meta.url),
  prefix: 'keyward-authstore-xproc-',
})
let server: TokenServer
const key = randomBytes(32).toString('base64')

beforeAll(async () => {
  server = await _startTokenServer({ delayMs: 30 })
})

afterAll(async () => {
  await server?.close()
})

describe('refresh across processes on one file store', () => {
  it(`${PROCESSES} processes × ${CALLS} concurrent getToken: one refresh per expiry, no invalid_grant, every caller gets the current token`, async () => {
    const path = join(race.dir, 'tokens.kw')
    const env = { KW_AUTHSTORE_TEST_KEY: key }
    const driver = fileDriver({ path, key: envKey('KW_AUTHSTORE_TEST_KEY', { env }) })
    const store = new AuthStore({ driver })
    const grant = server.issue('registry:read registry:write')
    await store.setToken('registry', {
      ...grant,
      expiresIn: 600,
      scopes: 'registry:read registry:write',
    })
    await driver.close()

    const config = JSON.stringify({ path, url: server.url, scope: 'registry:write' })
    await race.start(PROCESSES, [config], env)

    // Round 1: an hour later every process finds the token expired. Round 2: the token the
    // first refresh issued (1 h lifetime) has expired too.
    for (const [round, offsetSeconds] of [
      [1, 3600],
      [2, 3 * 3600],
    ] as const) {
      const { tokens, errors } = await tokenRound(race.children, { offsetSeconds, calls: CALLS })
      expect(errors).toEqual([])
      expect(tokens).toHaveLength(PROCESSES * CALLS)
      expect(server.refreshes).toBe(round)
      expect(server.invalidGrants).toBe(0)
      expect(new Set(tokens).size).toBe(1)
      expect(tokens[0]).not.toBe(grant.accessToken)
      expect(server.isCurrent(tokens[0]!)).toBe(true)
    }
    race.exit()

    // The parent, reading the file afresh, sees the second refresh persisted.
    const reader = fileDriver({ path, key: envKey('KW_AUTHSTORE_TEST_KEY', { env }) })
    const meta = await new AuthStore({ driver: reader }).getMetadata('registry')
    expect(meta).toMatchObject({
      state: 'valid',
      generation: 3,
      backend: { name: 'file', durability: 'durable' },
    })
    await reader.close()
  })
})

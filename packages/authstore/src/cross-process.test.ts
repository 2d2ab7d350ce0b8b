import { type ChildProcess, fork } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { envKey } from '@keyward/core'
import { fileDriver } from '@keyward/core/drivers/file'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { askEach, assertBuilt, nextMessage } from '../../../test/_built.js'
import { _startTokenServer, type TokenServer } from './_token-server.js'
import { AuthStore } from './index.js'

const PROCESSES = 8
const CALLS = 50
/** What a child answers for a round: the tokens its calls got and the errors they met. */
type Answer = { tokens: string[]; errors: string[] }
const child = fileURLToPath(new URL('./_cross-process-child.mjs', import.meta.url))

let dir: string
let server: TokenServer
const children: ChildProcess[] = []
const key = randomBytes(32).toString('base64')

beforeAll(async () => {
  assertBuilt(['core', 'authstore'])
  dir = await mkdtemp(join(tmpdir(), 'keyward-authstore-xproc-'))
  server = await _startTokenServer({ delayMs: 30 })
})

afterAll(async () => {
  for (const c of children) c.kill()
  await server?.close()
  if (dir) await rm(dir, { recursive: true, force: true })
})

describe('refresh across processes on one file store', () => {
  it(`${PROCESSES} processes × ${CALLS} concurrent getToken: one refresh per expiry, no invalid_grant, every caller gets the current token`, async () => {
    const path = join(dir, 'tokens.kw')
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
    for (let i = 0; i < PROCESSES; i++) {
      const c = fork(child, [config], {
        env: { ...process.env, ...env },
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      })
      children.push(c)
    }
    await Promise.all(children.map((c) => nextMessage(c)))

    // Round 1: an hour later every process finds the token expired. Round 2: the token the
    // first refresh issued (1 h lifetime) has expired too.
    for (const [round, offsetSeconds] of [
      [1, 3600],
      [2, 3 * 3600],
    ] as const) {
      const results = await askEach<Answer>(children, { offsetSeconds, calls: CALLS })
      const tokens = results.flatMap((r) => r.tokens)
      expect(results.flatMap((r) => r.errors)).toEqual([])
      expect(tokens).toHaveLength(PROCESSES * CALLS)
      expect(server.refreshes).toBe(round)
      expect(server.invalidGrants).toBe(0)
      expect(new Set(tokens).size).toBe(1)
      expect(tokens[0]).not.toBe(grant.accessToken)
      expect(server.isCurrent(tokens[0]!)).toBe(true)
    }
    for (const c of children) c.send({ type: 'exit' })

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

// Four app-instance processes share one encrypted file store and call getAccessToken for the
// same users' connections at once, across two expiries, against a real oidc-provider that
// rotates refresh tokens: exactly one refresh per connection per expiry, zero invalid_grant, no
// lost connection. The children import the built packages. The same race on PostgreSQL (the
// issue's 1,000-connection run) needs postgresDriver, which had not landed when this was written.
import { type ChildProcess, fork } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { AuthStore } from '@keyward/authstore'
import { envKey } from '@keyward/core'
import { fileDriver } from '@keyward/core/drivers/file'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { assertBuilt, nextMessage, snapshotBuilt } from '../../../test/_built.js'
import { _Browser } from './_browser.js'
import { _CLIENT, _useOidc } from './_oidc.js'
import { createIntegrations } from './integrations.js'

const PROCESSES = 4
const USERS = 12
const CALLS = 5
const PACKAGES = ['core', 'authstore', 'oauth']
const local = _useOidc({ accountIdPath: 'sub' })

describe('integrations across app-instance processes on one file store', () => {
  let dir = ''
  let child = ''
  const children: ChildProcess[] = []
  beforeAll(async () => {
    assertBuilt(PACKAGES)
    dir = await mkdtemp(join(tmpdir(), 'keyward-integrations-xproc-'))
    child = await snapshotBuilt(
      dir,
      PACKAGES,
      new URL('./_integrations-race-child.mjs', import.meta.url),
    )
  })
  afterAll(async () => {
    for (const c of children) c.kill()
    if (dir) await rm(dir, { recursive: true, force: true })
  })

  it(`${PROCESSES} processes × ${USERS} connections × ${CALLS} concurrent getAccessToken: one refresh per connection per expiry, zero invalid_grant`, async () => {
    const path = join(dir, 'integrations.kw')
    const env = {
      KW_INTEGRATIONS_RACE_KEY: randomBytes(32).toString('base64'),
      KW_INTEGRATIONS_RACE_SECRET: _CLIENT.clientSecret,
    }
    Object.assign(process.env, { KW_INTEGRATIONS_RACE_SECRET: env.KW_INTEGRATIONS_RACE_SECRET })
    // The users connect through one instance's handler, as they would through the web app.
    const driver = fileDriver({ path, key: envKey('KW_INTEGRATIONS_RACE_KEY', { env }) })
    const integrations = createIntegrations({
      driver,
      store: new AuthStore({ driver, namespace: 'integration-tokens' }),
      baseUrl: 'https://app.example',
      dev: true,
      currentUser: (request) => request.headers.get('x-user'),
      integrations: {
        calendar: {
          provider: local.provider,
          client: { clientId: _CLIENT.clientId, clientSecret: '@env:KW_INTEGRATIONS_RACE_SECRET' },
          scopes: ['openid', 'offline_access'],
        },
      },
    })
    const users = Array.from({ length: USERS }, (_, i) => `user-${i}`)
    for (const user of users) {
      const { url } = await integrations.beginConnect(user, 'calendar')
      const callback = await new _Browser().authorize(url, { login: user })
      await integrations.handleCallback(new Request(callback, { headers: { 'x-user': user } }))
    }
    await driver.close?.()

    const config = JSON.stringify({ path, issuer: local.oidc.issuer, clientId: _CLIENT.clientId })
    for (let i = 0; i < PROCESSES; i++)
      children.push(
        fork(child, [config], {
          env: { ...process.env, ...env },
          stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        }),
      )
    await Promise.all(children.map((c) => nextMessage(c)))
    const grantsBefore = local.oidc.refreshGrants
    const invalidBefore = local.oidc.invalidGrants
    for (const [round, offsetSeconds] of [
      [1, 3600],
      [2, 3 * 3600],
    ] as const) {
      const replies = children.map((c) =>
        nextMessage<{ tokens: [string, string][]; errors: string[] }>(c),
      )
      for (const c of children) c.send({ offsetSeconds, users, calls: CALLS })
      const results = await Promise.all(replies)
      expect(results.flatMap((r) => r.errors)).toEqual([])
      const served = results.flatMap((r) => r.tokens)
      expect(served).toHaveLength(PROCESSES * USERS * CALLS)
      // Every process got the same current token per user: one refresh per connection.
      const perUser = new Map<string, Set<string>>()
      for (const [user, token] of served)
        perUser.set(user, (perUser.get(user) ?? new Set()).add(token))
      expect([...perUser.values()].map((s) => s.size)).toEqual(users.map(() => 1))
      expect(local.oidc.refreshGrants - grantsBefore).toBe(round * USERS)
      expect(local.oidc.invalidGrants - invalidBefore).toBe(0)
    }
    for (const c of children) c.send({ type: 'exit' })
  })
})

// Regressions: namespaces were not isolated — `new AuthStore({ namespace: '@acme' }).list()`
// returned the records of namespace `@acme/jira` (plugin ids that are scoped npm names hit this)
// — and a lone surrogate in a service name made setToken throw a URIError.
import { KEYWARD_INVALID_ARGUMENT, KeywardError } from '@keyward/core'
import { expectKeywardError } from '@keyward/core/testing'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { suiteDriver } from '../../../test/_driver.js'
import { AuthStore } from './index.js'

describe('namespaces are isolated', () => {
  it("namespace '@acme' lists and reads none of the records of '@acme/jira'", async () => {
    const driver = suiteDriver()
    const jira = new AuthStore({ driver, namespace: '@acme/jira' })
    const acme = new AuthStore({ driver, namespace: '@acme' })
    await jira.setToken('jira', { accessToken: 'jira-token', scopes: 'read' })
    expect(await acme.list()).toEqual([])
    expect(await acme.getMetadata('jira')).toBeNull()
    await acme.setToken('github', { accessToken: 'gh-token' })
    expect((await jira.list()).map((m) => m.service)).toEqual(['jira'])
    expect((await acme.list()).map((m) => m.service)).toEqual(['github'])
  })

  it('keeps the keys of namespaces without `/` or `%` (the default `authstore` included)', async () => {
    const driver = suiteDriver()
    await new AuthStore({ driver }).setToken('svc', { accessToken: 't' })
    await new AuthStore({ driver, namespace: '@acme' }).setToken('svc', { accessToken: 't' })
    await new AuthStore({ driver, namespace: 'a/b%c' }).setToken('svc', { accessToken: 't' })
    expect(await driver.list()).toEqual([
      '@acme/svc/default',
      'a%2Fb%25c/svc/default',
      'authstore/svc/default',
    ])
  })

  it('property: for any two namespaces, services and accounts, each store sees only its own records', async () => {
    const name = fc
      .oneof(
        fc.string({ minLength: 1, maxLength: 12 }),
        fc.constantFrom(
          'a',
          'a/b',
          'a%2Fb',
          '@acme',
          '@acme/jira',
          'x/',
          '/',
          '%',
          '%25',
          'é',
          '😀',
        ),
        fc.string({ unit: 'grapheme', minLength: 1, maxLength: 6 }),
      )
      .filter((s) => !s.includes('\0'))
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(name, { minLength: 2, maxLength: 3 }),
        name,
        name,
        async (namespaces, service, account) => {
          const driver = suiteDriver()
          const stores = namespaces.map((namespace) => new AuthStore({ driver, namespace }))
          for (const [i, store] of stores.entries())
            await store.setToken(service, { accessToken: `token-${i}`, account })
          for (const [i, store] of stores.entries()) {
            const listed = await store.list()
            expect(listed).toHaveLength(1)
            expect(listed[0]).toMatchObject({ service, account })
            expect(await store.getToken(service, { account })).toBe(`token-${i}`)
          }
        },
      ),
      { numRuns: 150 },
    )
  })
})

describe('names that become part of a key are well-formed Unicode', () => {
  const lone = ['\uD83D', 'cut\uDE00', 'a\uD800b']

  it('a lone surrogate in a service, account or namespace is KEYWARD_INVALID_ARGUMENT, never a URIError', async () => {
    const store = new AuthStore({ driver: suiteDriver() })
    for (const bad of lone) {
      const calls = [
        () => store.setToken(bad, { accessToken: 't' }),
        () => store.setToken('svc', { accessToken: 't', account: bad }),
        () => store.getToken(bad),
        () => store.clearToken(bad),
        () => store.reload(bad),
        () => new AuthStore({ driver: suiteDriver(), namespace: bad }),
      ]
      for (const call of calls) await expectKeywardError(call, KEYWARD_INVALID_ARGUMENT)
    }
    expect(await store.list()).toEqual([])
  })

  it('property: any string is either accepted as a service name (and read back) or refused with the stable code', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string({ unit: 'binary', minLength: 0, maxLength: 20 }),
        async (service) => {
          const store = new AuthStore({ driver: suiteDriver() })
          const stored = await store.setToken(service, { accessToken: 't' }).then(
            () => true,
            (error: unknown) => {
              expect(KeywardError.isInstance(error) && error.code).toBe(KEYWARD_INVALID_ARGUMENT)
              return false
            },
          )
          if (stored) expect(await store.getToken(service)).toBe('t')
        },
      ),
      { numRuns: 100 },
    )
  })
})

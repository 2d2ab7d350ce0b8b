import { mkdir, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { KeywardError } from '@keyward/core'
import { expectKeywardError } from '@keyward/core/testing'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { _clockifyFiles, _tempDir, _writePlugin } from './_fixtures.js'
import { KEYWARD_MANIFEST_INVALID, KEYWARD_MANIFEST_NOT_FOUND } from './errors.js'
import { parseBoundedJson } from './internal/files.js'
import { loadManifest, parseManifest } from './manifest.js'

describe('loadManifest', () => {
  it('reads the clockify plugin of the issue and normalises every entry', async () => {
    const dir = await _writePlugin(await _tempDir(), _clockifyFiles())
    const plugin = await loadManifest(dir)
    expect(plugin.id).toBe('clockify')
    expect(plugin.version).toBe('1.0.0')
    expect(plugin.main.endsWith('index.js')).toBe(true)
    expect(plugin.commands?.endsWith('command.js')).toBe(true)
    expect(plugin.manifest.env.CLOCKIFY_API_KEY).toEqual({
      key: 'CLOCKIFY_API_KEY',
      sources: ['LOCAL', 'ENV', 'GLOBAL', 'SYSTEM'],
      optional: false,
      mode: 'value',
    })
    expect(plugin.manifest.env.WORKSPACE).toMatchObject({
      key: 'CLOCKIFY_WORKSPACE',
      sources: ['LOCAL', 'ENV'],
      optional: true,
      label: 'Workspace id',
    })
    expect(plugin.manifest.env.API_TOKEN?.mode).toBe('reference')
    expect(plugin.manifest.network).toEqual(['https://api.clockify.me'])
    expect(plugin.manifest.tools.upload).toEqual({
      auth: 'registry',
      scope: 'registry:write',
      approval: 'always',
    })
    expect(plugin.manifest.tools.search).toEqual({ approval: 'never' })
    expect(Object.isFrozen(plugin.manifest.env.WORKSPACE)).toBe(true)
    expect(Object.isFrozen(plugin.manifest.env)).toBe(true)
  })

  it('reads a Kazibee plugin unchanged under its own manifest key, and nothing under the default key', async () => {
    const dir = await _writePlugin(await _tempDir(), _clockifyFiles('kazibee'))
    const kazibee = await loadManifest(dir, { manifestKey: 'kazibee' })
    expect(Object.keys(kazibee.manifest.env)).toEqual([
      'CLOCKIFY_API_KEY',
      'WORKSPACE',
      'API_TOKEN',
    ])
    const plain = await loadManifest(dir)
    expect(plain.manifest.env).toEqual({})
    expect(plain.manifestFile).toBeUndefined()
  })

  it('names the file and JSON path of a bad entry', async () => {
    const files = _clockifyFiles()
    const permissions = files['permissions.json'] as { env: Record<string, unknown> }
    permissions.env.WORKSPACE = { key: 'W', sources: ['LOCAL', 'CLOUD'] }
    const dir = await _writePlugin(await _tempDir(), files)
    const error = await expectKeywardError(loadManifest(dir), KEYWARD_MANIFEST_INVALID)
    expect(error.code).toBe(KEYWARD_MANIFEST_INVALID)
    expect(error.details.path).toBe('env.WORKSPACE.sources[1]')
    expect(String(error.details.file).endsWith('permissions.json')).toBe(true)
    expect(error.message).toContain('permissions.json: env.WORKSPACE.sources[1]')
  })

  it('names the package.json path of a bad pointer', async () => {
    const dir = await _writePlugin(await _tempDir(), {
      'package.json': { name: 'p', keyward: { permissions: 42 } },
      'index.js': '',
    })
    const error = await expectKeywardError(loadManifest(dir), KEYWARD_MANIFEST_INVALID)
    expect(error.code).toBe(KEYWARD_MANIFEST_INVALID)
    expect(error.details.path).toBe('keyward.permissions')
  })

  it('refuses a missing package.json and a pointer to a missing file with MANIFEST_NOT_FOUND', async () => {
    expect(
      (await expectKeywardError(loadManifest(await _tempDir()), KEYWARD_MANIFEST_NOT_FOUND)).code,
    ).toBe(KEYWARD_MANIFEST_NOT_FOUND)
    const dir = await _writePlugin(await _tempDir(), {
      'package.json': { name: 'p', keyward: { permissions: './nope.json' } },
      'index.js': '',
    })
    const error = await expectKeywardError(loadManifest(dir), KEYWARD_MANIFEST_NOT_FOUND)
    expect(error.code).toBe(KEYWARD_MANIFEST_NOT_FOUND)
    expect(error.details.path).toBe('keyward.permissions')
  })

  it('refuses a manifest reached through a symlink chain out of the plugin folder', async () => {
    const outside = await _tempDir()
    await writeFile(join(outside, 'permissions.json'), '{"env":{}}')
    const dir = await _writePlugin(await _tempDir(), {
      'package.json': { name: 'p', keyward: { permissions: './link2/permissions.json' } },
      'index.js': '',
    })
    await symlink(outside, join(dir, 'link1'))
    await symlink(join(dir, 'link1'), join(dir, 'link2'))
    const error = await expectKeywardError(loadManifest(dir), KEYWARD_MANIFEST_INVALID)
    expect(error.code).toBe(KEYWARD_MANIFEST_INVALID)
    expect(error.details).toMatchObject({ path: 'keyward.permissions', reason: 'outside' })
  })

  it('refuses a `..` path and a main outside the folder', async () => {
    const parent = await _tempDir()
    await writeFile(join(parent, 'evil.js'), '')
    await mkdir(join(parent, 'plugin'))
    const dir = await _writePlugin(join(parent, 'plugin'), {
      'package.json': { name: 'p', main: '../evil.js' },
    })
    const error = await expectKeywardError(loadManifest(dir), KEYWARD_MANIFEST_INVALID)
    expect(error.details).toMatchObject({ path: 'main', reason: 'outside' })
  })

  it('bounds the size and depth of what it reads', async () => {
    const big = await _writePlugin(await _tempDir(), {
      'package.json': { name: 'p', keyward: { permissions: './permissions.json' } },
      'permissions.json': `{"env":{}}${' '.repeat(300 * 1024)}`,
      'index.js': '',
    })
    expect(
      (await expectKeywardError(loadManifest(big), KEYWARD_MANIFEST_INVALID)).details.reason,
    ).toBe('size')
    const deep = await _writePlugin(await _tempDir(), {
      'package.json': { name: 'p', keyward: { permissions: './permissions.json' } },
      'permissions.json': `${'['.repeat(100_000)}${']'.repeat(100_000)}`,
      'index.js': '',
    })
    expect(
      (await expectKeywardError(loadManifest(deep), KEYWARD_MANIFEST_INVALID)).details.reason,
    ).toBe('depth')
  })
})

describe('parseManifest', () => {
  const refused = (input: unknown) =>
    expectKeywardError(() => parseManifest(input), KEYWARD_MANIFEST_INVALID)

  it('refuses a tool whose auth or scope was not declared', async () => {
    expect((await refused({ tools: { up: { auth: 'registry' } } })).details.path).toBe(
      'tools.up.auth',
    )
    expect(
      (
        await refused({
          auth: { registry: { scopes: ['read'], origins: ['https://api.example.com'] } },
          tools: { up: { auth: 'registry', scope: 'write' } },
        })
      ).details.path,
    ).toBe('tools.up.scope')
    expect((await refused({ tools: { up: { scope: 'write' } } })).details.path).toBe(
      'tools.up.scope',
    )
  })

  it.each([
    'https://api.example.com/',
    'https://API.example.com',
    'https://api.example.com/v1',
    'ftp://api.example.com',
    'file:///etc/passwd',
    'api.example.com',
  ])(
    'refuses origins with a path, upper case, a trailing slash or another scheme: %s',
    async (origin) => {
      const error = await refused({ network: [origin] })
      expect(error.code).toBe(KEYWARD_MANIFEST_INVALID)
      expect(error.details.path).toBe('network[0]')
    },
  )

  it('refuses __proto__, constructor and prototype as names instead of dropping them', async () => {
    for (const name of ['__proto__', 'constructor', 'prototype']) {
      const input = JSON.parse(`{"env":{"${name}":"X","OK":"Y"}}`)
      const error = await refused(input)
      expect(error.code).toBe(KEYWARD_MANIFEST_INVALID)
      expect(error.details.path).toBe('env')
    }
    expect(({} as Record<string, unknown>).X).toBeUndefined()
  })

  it('refuses unknown keys, so a typo never silently drops a permission', async () => {
    const error = await expectKeywardError(
      () => parseManifest({ env: {}, netwrok: ['https://a.example'] }),
      KEYWARD_MANIFEST_INVALID,
    )
    expect(error.details.path).toBe('netwrok')
  })
})

describe('hostile manifests (property tests)', () => {
  const onlyManifestErrors = (fn: () => unknown) => {
    try {
      fn()
    } catch (error) {
      expect(KeywardError.isInstance(error)).toBe(true)
      expect((error as KeywardError).code).toBe(KEYWARD_MANIFEST_INVALID)
    }
  }

  it('any JSON value parses or fails with KEYWARD_MANIFEST_INVALID, never a crash', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), (value) =>
        onlyManifestErrors(() => parseManifest(value)),
      ),
      { numRuns: 500 },
    )
  })

  it('manifest-shaped values with hostile leaves fail cleanly', () => {
    const leaf = fc.oneof(
      fc.string(),
      fc.constantFrom('__proto__', 'constructor', 'LOCAL', 'https://a.example', 'x'.repeat(5000)),
      fc.integer(),
      fc.constant(null),
      fc.array(fc.string(), { maxLength: 3 }),
    )
    const entry = fc.oneof(
      leaf,
      fc.record(
        { key: leaf, sources: leaf, optional: leaf, mode: leaf, label: leaf, helpUrl: leaf },
        { requiredKeys: [] },
      ),
    )
    const manifest = fc.record(
      {
        env: fc.dictionary(fc.string(), entry, { maxKeys: 4 }),
        network: fc.array(leaf, { maxLength: 3 }),
        auth: fc.dictionary(fc.string(), fc.record({ scopes: leaf, origins: leaf }), {
          maxKeys: 2,
        }),
        tools: fc.dictionary(
          fc.string(),
          fc.record({ auth: leaf, scope: leaf, approval: leaf }, { requiredKeys: [] }),
          { maxKeys: 3 },
        ),
      },
      { requiredKeys: [] },
    )
    fc.assert(
      fc.property(manifest, (value) => onlyManifestErrors(() => parseManifest(value))),
      {
        numRuns: 500,
      },
    )
  })

  it('any text parses as bounded JSON or fails with KEYWARD_MANIFEST_INVALID', () => {
    const text = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.json(),
      fc.nat({ max: 50_000 }).map((n) => `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`),
      fc.nat({ max: 50_000 }).map((n) => `"${'\\'.repeat(n)}`),
    )
    fc.assert(
      fc.property(text, (value) => onlyManifestErrors(() => parseBoundedJson(value, 'x.json'))),
      { numRuns: 300 },
    )
  })
})

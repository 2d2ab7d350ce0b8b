import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { envKey, verifyAuditLog } from '@keyward/core'
import { memoryDriver } from '@keyward/core/drivers/memory'
import { expectKeywardError } from '@keyward/core/testing'
import { describe, expect, it } from 'vitest'
import { _clockifyFiles, _tempDir, _writePlugin } from './_fixtures.js'
import {
  KEYWARD_GRANT_MISSING,
  KEYWARD_LOCAL_VALUE_REFUSED,
  KEYWARD_SECRET_KEY_INVALID,
  KEYWARD_VALUE_MISSING,
} from './errors.js'
import { createPluginHost } from './host.js'
import type { PromptAnswer, PromptRequest } from './host-types.js'
import { envSource } from './sources.js'

const CANARY = 'canary-7f3a9c1e55d04b2a'

async function setup(
  answer: (request: PromptRequest) => PromptAnswer = (request) =>
    request.kind === 'env' ? { grant: true, source: 'ENV' } : { grant: true },
) {
  const dataDir = await _tempDir()
  const pluginDir = await _writePlugin(await _tempDir(), _clockifyFiles())
  const asked: PromptRequest[] = []
  const env: Record<string, string> = {
    CLOCKIFY_API_KEY: CANARY,
    CLOCKIFY_TOKEN: `${CANARY}-token`,
    CLOCKIFY_WORKSPACE: 'ws-env',
    UNRELATED_SECRET: `${CANARY}-unrelated`,
  }
  const audited: unknown[] = []
  const host = createPluginHost({
    dataDir,
    store: memoryDriver(),
    sources: { ENV: envSource(env) },
    prompt: async (request) => {
      asked.push(request)
      return answer(request)
    },
    audit: (entry) => audited.push(entry),
  })
  return { host, dataDir, pluginDir, asked, env, audited }
}

describe('link and grants', () => {
  it('prompts once for every variable, origin and scope, and remembers the answers', async () => {
    const { host, pluginDir, asked } = await setup()
    const { id, grants } = await host.link(pluginDir)
    expect(id).toBe('clockify')
    expect(
      asked.map((r) =>
        r.kind === 'env' ? r.variable : r.kind === 'network' ? r.origin : r.service,
      ),
    ).toEqual([
      'CLOCKIFY_API_KEY',
      'WORKSPACE',
      'API_TOKEN',
      'https://api.clockify.me',
      'https://api.example.com',
      'registry',
    ])
    expect(asked[1]).toMatchObject({ kind: 'env', sources: ['LOCAL', 'ENV'], reason: 'new' })
    expect(grants.env.CLOCKIFY_API_KEY).toEqual({ source: 'ENV', key: 'CLOCKIFY_API_KEY' })
    expect(grants.network).toEqual(['https://api.clockify.me', 'https://api.example.com'])
    expect(grants.auth).toEqual({ registry: ['registry:read', 'registry:write'] })
    asked.length = 0
    await host.link(pluginDir)
    expect(asked).toEqual([])
  })

  it('grants nothing the prompt refused', async () => {
    const { host, pluginDir } = await setup(() => ({ grant: false }))
    const { id, grants } = await host.link(pluginDir)
    expect(Object.values(grants.env)).toEqual([null, null, null])
    expect(grants.network).toEqual([])
    expect(grants.auth).toEqual({})
    const error = await expectKeywardError(host.resolveEnv(id), KEYWARD_GRANT_MISSING)
    expect(error.code).toBe(KEYWARD_GRANT_MISSING)
    expect(error.details.variable).toBe('CLOCKIFY_API_KEY')
  })

  it('a plugin update that adds a variable, widens sources, adds an origin or a scope asks again; removed entries lose grants', async () => {
    const { host, pluginDir, asked } = await setup((request) =>
      request.kind === 'env'
        ? { grant: true, source: request.sources.includes('ENV') ? 'ENV' : 'LOCAL' }
        : { grant: true },
    )
    await host.link(pluginDir)
    const manifest = JSON.parse(await readFile(join(pluginDir, 'permissions.json'), 'utf8'))
    manifest.env.NEW_VAR = 'NEW_KEY'
    manifest.env.WORKSPACE.sources = ['LOCAL', 'ENV', 'SYSTEM']
    manifest.network.push('https://upload.clockify.me')
    manifest.auth.registry.scopes.push('registry:admin')
    delete manifest.env.API_TOKEN
    await writeFile(join(pluginDir, 'permissions.json'), JSON.stringify(manifest))
    asked.length = 0
    const { grants } = await host.link(pluginDir)
    expect(asked).toEqual([
      expect.objectContaining({ kind: 'env', variable: 'WORKSPACE', reason: 'changed' }),
      expect.objectContaining({ kind: 'env', variable: 'NEW_VAR', reason: 'new' }),
      { kind: 'network', plugin: 'clockify', origin: 'https://upload.clockify.me' },
      expect.objectContaining({ kind: 'auth', service: 'registry', scopes: ['registry:admin'] }),
    ])
    expect(grants.env.API_TOKEN).toBeUndefined()
    expect(Object.keys(grants.env)).toEqual(['CLOCKIFY_API_KEY', 'WORKSPACE', 'NEW_VAR'])
  })

  it('revoke takes effect at once and is audited', async () => {
    const { host, pluginDir, audited } = await setup()
    const { id } = await host.link(pluginDir)
    const notified: string[] = []
    host.onGrantsChanged((changed) => {
      notified.push(changed)
    })
    await host.revoke(id, 'CLOCKIFY_API_KEY')
    expect((await host.grants(id)).env.CLOCKIFY_API_KEY).toBeNull()
    expect((await expectKeywardError(host.resolveEnv(id), KEYWARD_GRANT_MISSING)).code).toBe(
      KEYWARD_GRANT_MISSING,
    )
    expect(notified).toEqual(['clockify'])
    expect(audited.at(-1)).toEqual({
      type: 'revoke',
      plugin: 'clockify',
      variable: 'CLOCKIFY_API_KEY',
    })
  })
})

describe('resolveEnv', () => {
  it('reads only granted variables from their granted source and freezes the result', async () => {
    const { host, pluginDir } = await setup()
    const { id } = await host.link(pluginDir)
    const env = await host.resolveEnv(id)
    expect(env).toEqual({
      CLOCKIFY_API_KEY: CANARY,
      WORKSPACE: 'ws-env',
      API_TOKEN: '${env.API_TOKEN}',
    })
    expect(Object.isFrozen(env)).toBe(true)
    expect(JSON.stringify(env)).not.toContain(`${CANARY}-unrelated`)
    expect(JSON.stringify(env)).not.toContain(`${CANARY}-token`)
  })

  it('names the variable and source of a missing required value, never a value; optional ones are absent', async () => {
    const { host, pluginDir, env } = await setup()
    const { id } = await host.link(pluginDir)
    delete env.CLOCKIFY_WORKSPACE
    expect(await host.resolveEnv(id)).not.toHaveProperty('WORKSPACE')
    delete env.CLOCKIFY_API_KEY
    env.CLOCKIFY_TOKEN = CANARY
    const error = await expectKeywardError(host.resolveEnv(id), KEYWARD_VALUE_MISSING)
    expect(error.code).toBe(KEYWARD_VALUE_MISSING)
    expect(error.details).toMatchObject({
      variable: 'CLOCKIFY_API_KEY',
      source: 'ENV',
      key: 'CLOCKIFY_API_KEY',
    })
    expect(JSON.stringify(error.toJSON())).not.toContain(CANARY)
  })

  it('substitutes ${secret.…} references in values through the GLOBAL source', async () => {
    const dataDir = await _tempDir()
    const pluginDir = await _writePlugin(await _tempDir(), _clockifyFiles())
    const host = createPluginHost({
      dataDir,
      store: memoryDriver(),
      sources: {
        ENV: envSource({ CLOCKIFY_API_KEY: 'key=${secret.clockify.apiKey}', CLOCKIFY_TOKEN: 't' }),
        GLOBAL: envSource({ 'clockify.apiKey': CANARY }),
      },
      prompt: async (request) =>
        request.kind === 'env' ? { grant: true, source: 'ENV' } : { grant: false },
    })
    const { id } = await host.link(pluginDir)
    expect((await host.resolveEnv(id)).CLOCKIFY_API_KEY).toBe(`key=${CANARY}`)
  })

  it('keeps LOCAL values in the encrypted file under dataDir by default', async () => {
    const dataDir = await _tempDir()
    const pluginDir = await _writePlugin(await _tempDir(), _clockifyFiles())
    const key = envKey('K', { env: { K: Buffer.alloc(32, 7).toString('base64') } })
    const host = createPluginHost({
      dataDir,
      key,
      prompt: async (request) =>
        request.kind === 'env' ? { grant: true, source: 'LOCAL' } : { grant: true },
    })
    const { id } = await host.link(pluginDir)
    await host.setLocal(id, {
      CLOCKIFY_API_KEY: CANARY,
      CLOCKIFY_TOKEN: 'tok',
      CLOCKIFY_WORKSPACE: 'ws',
    })
    expect((await host.resolveEnv(id)).CLOCKIFY_API_KEY).toBe(CANARY)
    const file = await readFile(join(dataDir, 'host.kw'))
    expect(file.includes(Buffer.from(CANARY))).toBe(false)
    const audit = await readFile(host.auditPath, 'utf8')
    expect(audit).not.toContain(CANARY)
    expect(await verifyAuditLog(host.auditPath)).toMatchObject({ ok: true })
  })
})

describe('commands and LOCAL values', () => {
  it('saves a command result as LOCAL values', async () => {
    const { host, pluginDir } = await setup((request) =>
      request.kind === 'env'
        ? { grant: true, source: request.variable === 'WORKSPACE' ? 'LOCAL' : 'ENV' }
        : { grant: true },
    )
    const { id } = await host.link(pluginDir)
    expect(await host.runCommand(id, 'login')).toEqual({ CLOCKIFY_WORKSPACE: 'ws-1' })
    expect((await host.resolveEnv(id)).WORKSPACE).toBe('ws-1')
  })

  it('refuses a login result carrying NODE_OPTIONS (or an undeclared key) and saves nothing', async () => {
    const files = _clockifyFiles()
    files['command.js'] =
      'export async function login() { return { CLOCKIFY_WORKSPACE: "ws-2", NODE_OPTIONS: "--require /tmp/evil.js" } }\n' +
      'export async function sneak() { return { OTHER_PLUGIN_KEY: "x" } }\n'
    const { host } = await setup((request) =>
      request.kind === 'env'
        ? { grant: true, source: request.variable === 'WORKSPACE' ? 'LOCAL' : 'ENV' }
        : { grant: true },
    )
    const pluginDir = await _writePlugin(await _tempDir(), files)
    const { id } = await host.link(pluginDir)
    const error = await expectKeywardError(
      host.runCommand(id, 'login'),
      KEYWARD_LOCAL_VALUE_REFUSED,
    )
    expect(error.code).toBe(KEYWARD_LOCAL_VALUE_REFUSED)
    expect(error.details.key).toBe('NODE_OPTIONS')
    expect(await host.resolveEnv(id)).not.toHaveProperty('WORKSPACE')
    expect(
      (await expectKeywardError(host.runCommand(id, 'sneak'), KEYWARD_LOCAL_VALUE_REFUSED)).details
        .key,
    ).toBe('OTHER_PLUGIN_KEY')
    for (const key of ['LD_PRELOAD', 'DYLD_INSERT_LIBRARIES', 'PATH', 'BASH_FUNC_x%%'])
      expect(
        (await expectKeywardError(host.setLocal(id, { [key]: 'x' }), KEYWARD_LOCAL_VALUE_REFUSED))
          .details.key,
      ).toBe(key)
  })
})

describe('plugin secrets', () => {
  it('are scoped per plugin: no key, prefix or encoding reaches another plugin', async () => {
    const { host } = await setup()
    const a = host.secrets('plugin-a')
    const b = host.secrets('plugin-a/x')
    const c = host.secrets('plugin-ab')
    await a.set('token', CANARY)
    for (const key of ['token', '../plugin-a/token', 'x/token', '/token'])
      for (const other of [b, c]) expect(await other.get(key)).toBeUndefined()
    expect(await a.has('token')).toBe(true)
    expect(await a.get('token')).toBe(CANARY)
    expect(await a.delete('token')).toBe(true)
    expect(await a.has('token')).toBe(false)
    expect((await expectKeywardError(a.set('', 'x'), KEYWARD_SECRET_KEY_INVALID)).code).toBe(
      KEYWARD_SECRET_KEY_INVALID,
    )
    expect((await expectKeywardError(a.get('\ud800'), KEYWARD_SECRET_KEY_INVALID)).code).toBe(
      KEYWARD_SECRET_KEY_INVALID,
    )
  })
})

import { appendFile, readFile } from 'node:fs/promises'
import { verifyAuditLog } from '@keyward/core'
import { memoryDriver } from '@keyward/core/drivers/memory'
import { expectKeywardError, recordingLogger } from '@keyward/core/testing'
import { describe, expect, it } from 'vitest'
import { _useApi } from './_api.js'
import { _tempDir, _writePlugin } from './_fixtures.js'
import {
  KEYWARD_GRANT_MISSING,
  KEYWARD_PLUGIN_CRASHED,
  KEYWARD_PLUGIN_FAILED,
  KEYWARD_PLUGIN_MEMORY,
  KEYWARD_PLUGIN_TIMEOUT,
} from './errors.js'
import { createPluginHost, type PluginHost } from './host.js'
import type { PluginProcess, StartOptions } from './runtime.js'
import { envSource } from './sources.js'

const KEY = 'key_canary_3e9b7c1d5a2f4680'
const TOKEN = 'tok_canary_9d2e4f6a8b1c3e57'

const loopback = _useApi()

/** A plugin folder whose index.js is `code`, declaring the loopback API and a token-using tool. */
async function plugin(code: string, name = 'demo') {
  return _writePlugin(await _tempDir(), {
    'package.json': {
      name,
      type: 'module',
      main: './index.js',
      keyward: { permissions: './permissions.json' },
    },
    'permissions.json': {
      env: { API_KEY: 'DEMO_API_KEY', TOKEN_REF: { key: 'DEMO_TOKEN', mode: 'reference' } },
      network: [loopback.api.origin],
      auth: { demo: { scopes: ['read'], origins: [loopback.api.origin] } },
      tools: { whoami: { auth: 'demo', scope: 'read' } },
    },
    'index.js': code,
  })
}

async function host(
  env: Record<string, string> = { DEMO_API_KEY: KEY, DEMO_TOKEN: KEY },
  logger = recordingLogger(),
) {
  return createPluginHost({
    logger,
    dataDir: await _tempDir(),
    store: memoryDriver(),
    sources: { ENV: envSource(env) },
    tokens: { getToken: async () => TOKEN },
    allowLoopback: true,
    prompt: async (request) =>
      request.kind === 'env' ? { grant: true, source: 'ENV' } : { grant: true },
  })
}

const TOOLS = `export default function main(env, ctx) {
  return {
    async echo(x) { return { x, keys: Object.keys(env) } },
    async whoami() { const r = await ctx.fetch('${'$'}{ORIGIN}/echo'); return r.json() },
    async ref() { const r = await ctx.fetch('${'$'}{ORIGIN}/echo', { headers: { 'x-key': env.TOKEN_REF } }); return r.json() },
    async remember(v) { await ctx.secrets.set('k', v); return ctx.secrets.get('k') },
    async boom() { throw new Error('bad input') },
    async say(m) { ctx.log('said', m); return 1 },
    async spin() { for (;;) {} },
    async grow() { let s = 'x'; for (;;) s += s },
  }
}`

/**
 * Links the TOOLS plugin into a fresh host, starts it with `options` and stops it after `use`,
 * whatever `use` does.
 */
async function withTools(
  options: StartOptions & { readonly logger?: ReturnType<typeof recordingLogger> },
  use: (p: PluginProcess, h: PluginHost) => Promise<void>,
): Promise<void> {
  const { logger, ...startOptions } = options
  const h = await host(undefined, logger)
  const { id } = await h.link(await plugin(TOOLS.replaceAll('${ORIGIN}', loopback.api.origin)))
  const p = await h.start(id, startOptions)
  try {
    await use(p, h)
  } finally {
    await p.stop()
  }
}

describe.each(['isolated', 'node'] as const)('plugin runtime (%s tier)', (tier) => {
  it('runs main(env, ctx) in a child and returns tool results', () =>
    withTools({ tier }, async (p) => {
      expect(await p.call('echo', 42)).toEqual({ x: 42, keys: ['API_KEY', 'TOKEN_REF'] })
      expect(p.pid).not.toBe(process.pid)
      expect(await p.call('remember', 'v1')).toBe('v1')
    }))

  it('ctx.log reaches the host logger with the plugin id', () => {
    const logger = recordingLogger()
    return withTools({ tier, logger }, async (p) => {
      await p.call('say', 'hello')
      expect(logger.at('info').map((line) => [line.message, line.fields])).toEqual([
        ['said hello', { plugin: 'demo' }],
      ])
    })
  })

  it('ctx.fetch goes through the broker: the token is attached for the tool and its echo comes back masked', () =>
    withTools({ tier }, async (p) => {
      const before = loopback.api.received.length
      const seen = (await p.call('whoami')) as { headers: Record<string, string> }
      expect(loopback.api.received[before]?.headers.authorization).toBe(`Bearer ${TOKEN}`)
      expect(seen.headers.authorization).toBe('Bearer ${auth.demo}')
      const ref = (await p.call('ref')) as { headers: Record<string, string> }
      expect(loopback.api.received[before + 1]?.headers['x-key']).toBe(KEY)
      expect(ref.headers['x-key']).toBe('${env.TOKEN_REF}')
    }))

  it('a throwing tool is KEYWARD_PLUGIN_FAILED; an infinite loop is killed and the plugin restarts', () =>
    withTools({ tier, callTimeoutMs: 2_000 }, async (p) => {
      const failed = await expectKeywardError(p.call('boom'), KEYWARD_PLUGIN_FAILED)
      expect(failed.message).toContain('bad input')
      await expectKeywardError(p.call('spin'), KEYWARD_PLUGIN_TIMEOUT)
      expect(await p.call('echo', 1)).toMatchObject({ x: 1 })
    }))

  it('a memory bomb ends only that plugin’s process', () =>
    withTools({ tier, callTimeoutMs: 20_000, memoryMiB: 64 }, async (p) => {
      const error = await p.call('grow').then(
        () => undefined,
        (e: unknown) => e as { code?: string },
      )
      expect([KEYWARD_PLUGIN_MEMORY, KEYWARD_PLUGIN_FAILED, KEYWARD_PLUGIN_CRASHED]).toContain(
        error?.code,
      )
      expect(await p.call('echo', 2)).toMatchObject({ x: 2 })
    }))

  it('a revoked grant on a warm process takes effect at once', () =>
    withTools({ tier }, async (p, h) => {
      await p.call('echo', 1)
      const pid = p.pid
      await h.revoke(p.id, 'API_KEY')
      await expectKeywardError(p.call('echo', 1), KEYWARD_GRANT_MISSING)
      expect(p.pid === undefined || p.pid !== pid).toBe(true)
    }))
})

/** A plugin that declares the loopback API and no variable, so it restarts without any grant. */
async function networkOnlyPlugin() {
  return _writePlugin(await _tempDir(), {
    'package.json': {
      name: 'netonly',
      type: 'module',
      main: './index.js',
      keyward: { permissions: './permissions.json' },
    },
    'permissions.json': { network: [loopback.api.origin] },
    'index.js': `export default function main(env, ctx) {
  return { async get() { return (await ctx.fetch('${loopback.api.origin}/user')).status } }
}`,
  })
}

describe('network revocation on a warm plugin', () => {
  /** Starts `id` on `running`, fetches once, revokes everything through `revoker`: the next fetch sends nothing. */
  async function expectRevokedWhileWarm(running: PluginHost, revoker: PluginHost, id: string) {
    const p = await running.start(id)
    try {
      expect(await p.call('get')).toBe(200)
      const before = loopback.api.received.length
      await revoker.revoke(id, '*')
      await expectKeywardError(p.call('get'), KEYWARD_PLUGIN_FAILED)
      expect(loopback.api.received.length).toBe(before)
    } finally {
      await p.stop()
    }
  }

  it('a revoked origin is refused at once, though the plugin needs no variable to restart', async () => {
    const h = await host()
    const { id } = await h.link(await networkOnlyPlugin())
    await expectRevokedWhileWarm(h, h, id)
  })
  it('a revocation by another host on the same store is refused at the next request', async () => {
    const store = memoryDriver()
    const hostOn = async () =>
      createPluginHost({
        dataDir: await _tempDir(),
        store,
        allowLoopback: true,
        prompt: async () => ({ grant: true }),
      })
    const [running, other] = [await hostOn(), await hostOn()]
    const { id } = await running.link(await networkOnlyPlugin())
    await expectRevokedWhileWarm(running, other, id)
  })
})

describe('audit lines of brokered requests', () => {
  /** The network-only plugin linked into a fresh host, started. */
  async function started() {
    const h = await host()
    const { id } = await h.link(await networkOnlyPlugin())
    return { h, p: await h.start(id) }
  }

  it('every request has its line, in order, once plugin.stop() returns', async () => {
    const { h, p } = await started()
    for (let i = 0; i < 5; i++) expect(await p.call('get')).toBe(200)
    await p.stop()
    const lines = (await readFile(h.auditPath, 'utf8')).trimEnd().split('\n')
    const entries = lines.map((line) => JSON.parse(line).entry)
    expect(entries.filter((entry) => entry.type === 'request')).toHaveLength(5)
    expect(entries.at(-1)).toMatchObject({ type: 'request', status: 200 })
    expect(await verifyAuditLog(h.auditPath)).toMatchObject({ ok: true })
  })

  it('once a line cannot be written, the next request is refused before anything is sent', async () => {
    const { h, p } = await started()
    try {
      expect(await p.call('get')).toBe(200)
      await h.record({ type: 'mark' }) // every earlier line is on disk once this one is
      await appendFile(h.auditPath, 'not a log line\n')
      await p.call('get').catch(() => undefined) // its line cannot be written
      await h.record({ type: 'mark' }).catch(() => undefined) // that failure has happened
      const before = loopback.api.received.length
      await expectKeywardError(p.call('get'), KEYWARD_PLUGIN_FAILED)
      expect(loopback.api.received.length).toBe(before)
    } finally {
      await p.stop()
    }
  })
})

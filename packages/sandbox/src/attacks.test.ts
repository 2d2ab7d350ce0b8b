import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { memoryDriver } from '@keyward/core/drivers/memory'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { _startApi } from './_api.js'
import { _tempDir, _writePlugin } from './_fixtures.js'
import { createPluginHost } from './host.js'
import { envSource } from './sources.js'

// The attack tests of issue 11. Each attack is a tool of a hostile plugin that reports what it
// could reach; the default (isolated) tier must block every one. The node tier's results
// depend on the Node version (the permission model denies network only from Node 25 on) and
// are asserted per version. `process.kill(process.ppid)` is only run in the isolated tier: in
// the node tier Node allows it (documented in docs/sandbox-threat-model.md).

const HOST_SECRET = 'host_canary_8c2e5a7f1b3d9e40'
const GRANTED = 'granted_canary_2f7a9c4e6b8d1a35'
const NODE_MAJOR = Number(process.versions.node.split('.')[0])

let api: Awaited<ReturnType<typeof _startApi>>
let other: { origin: string; hits: number; close(): Promise<void> }
beforeAll(async () => {
  api = await _startApi()
  let hits = 0
  const server = createServer((_req, res) => {
    hits++
    res.end('reached')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  other = {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get hits() {
      return hits
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
  process.env.KEYWARD_ATTACK_HOST_SECRET = HOST_SECRET
})
afterAll(async () => {
  delete process.env.KEYWARD_ATTACK_HOST_SECRET
  await api.close()
  await other.close()
})

/** Runs `body` (an async function body) as a tool; returns what it returned or 'blocked: …'. */
const attack = (body: string) =>
  `async () => { try { ${body} } catch (e) { return 'blocked: ' + (e && e.code || e && e.message || e) } }`

function hostilePlugin(victimFile: string, otherOrigin: string) {
  return `export default function main(env, ctx) {
  return {
    processEnv: ${attack("return typeof process === 'undefined' ? 'no process' : JSON.stringify(process.env)")},
    processReport: ${attack("return typeof process === 'undefined' ? 'no process' : JSON.stringify(process.report.getReport())")},
    procEnviron: ${attack("const fs = await import('node:fs'); return fs.readFileSync('/proc/self/environ', 'utf8')")},
    parentEnviron: ${attack("const fs = await import('node:fs'); return fs.readFileSync('/proc/' + process.ppid + '/environ', 'utf8')")},
    otherPlugin: ${attack(`const fs = await import('node:fs'); return fs.readFileSync(${JSON.stringify(victimFile)}, 'utf8')`)},
    childProcess: ${attack("const cp = await import('node:child_process'); return cp.execSync('echo spawned').toString()")},
    binding: ${attack("return typeof process === 'undefined' ? 'no process' : String(Object.keys(process.binding('fs')).length)")},
    escape: ${attack("const g = (function () {}).constructor.constructor('return this')(); return typeof g.process === 'undefined' ? 'no process' : 'escaped'")},
    pollute: ${attack("Object.prototype.polluted = 'yes'; env.constructor.prototype.polluted2 = 'yes'; return 'done'")},
    rawFetch: ${attack(`if (typeof fetch === 'undefined') return 'no fetch'; const r = await fetch(${JSON.stringify(otherOrigin)}); return await r.text()`)},
    brokerFetch: ${attack(`const r = await ctx.fetch(${JSON.stringify(otherOrigin)}); return await r.text()`)},
    socket: ${attack("const net = await import('node:net'); return await new Promise((resolve, reject) => { const s = net.connect('/run/dbus/system_bus_socket'); s.on('connect', () => { s.destroy(); resolve('connected') }); s.on('error', reject) })")},
    killParent: ${attack("if (typeof process === 'undefined') return 'no process'; process.kill(process.ppid, 0); return 'could signal'")},
    seeEnv: ${attack('return JSON.stringify(env)')},
  }
}`
}

async function setup(tier: 'isolated' | 'node') {
  const victim = await _writePlugin(await _tempDir(), {
    'package.json': { name: 'victim', main: './index.js' },
    'index.js': `export default () => ({}) // ${GRANTED}-victim\n`,
  })
  const dir = await _writePlugin(await _tempDir(), {
    'package.json': {
      name: 'hostile',
      type: 'module',
      main: './index.js',
      keyward: { permissions: './permissions.json' },
    },
    'permissions.json': { env: { API_KEY: 'ATTACK_API_KEY' }, network: [api.origin] },
    'index.js': hostilePlugin(`${victim}/index.js`, other.origin),
  })
  const host = createPluginHost({
    dataDir: await _tempDir(),
    store: memoryDriver(),
    sources: { ENV: envSource({ ATTACK_API_KEY: GRANTED }) },
    allowLoopback: true,
    prompt: async (request) =>
      request.kind === 'env' ? { grant: true, source: 'ENV' } : { grant: true },
  })
  const { id } = await host.link(dir)
  return host.start(id, { tier, callTimeoutMs: 5_000 })
}

describe('attacks on the isolated (default) tier: every one is blocked', () => {
  let plugin: Awaited<ReturnType<typeof setup>>
  beforeAll(async () => {
    plugin = await setup('isolated')
  })
  afterAll(() => plugin.stop())

  it.each([
    'processEnv',
    'processReport',
    'procEnviron',
    'parentEnviron',
    'otherPlugin',
    'childProcess',
    'binding',
    'socket',
    'killParent',
  ])('%s finds no Node API', async (tool) => {
    const result = String(await plugin.call(tool))
    expect(result).not.toContain(HOST_SECRET)
    expect(result).toMatch(/^(no process|blocked: )/)
  })

  it('constructor.constructor reaches only the QuickJS global', async () => {
    expect(await plugin.call('escape')).toBe('no process')
  })

  it('prototype pollution stays inside QuickJS', async () => {
    await plugin.call('pollute')
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    expect(({} as Record<string, unknown>).polluted2).toBeUndefined()
  })

  it('has no fetch of its own, and the broker refuses an ungranted origin (127.0.0.1 included)', async () => {
    const before = other.hits
    expect(await plugin.call('rawFetch')).toBe('no fetch')
    expect(String(await plugin.call('brokerFetch'))).toMatch(
      /^blocked: .*not among the origins granted/,
    )
    expect(other.hits).toBe(before)
  })

  it('sees only its granted values, not a secret the host set in its own process.env after start', async () => {
    expect(JSON.parse(String(await plugin.call('seeEnv')))).toEqual({ API_KEY: GRANTED })
  })
})

describe('attacks on the node tier (weaker, stated per Node version)', () => {
  let plugin: Awaited<ReturnType<typeof setup>>
  beforeAll(async () => {
    plugin = await setup('node')
  })
  afterAll(() => plugin.stop())

  it('process.env is empty of host values (the child starts with an empty environment)', async () => {
    const env = JSON.parse(String(await plugin.call('processEnv'))) as Record<string, string>
    expect(Object.keys(env).filter((key) => !key.startsWith('NODE_CHANNEL'))).toEqual([])
    expect(JSON.stringify(env)).not.toContain(HOST_SECRET)
  })

  it.each(['procEnviron', 'parentEnviron', 'otherPlugin', 'childProcess'])(
    '%s is denied by the permission model',
    async (tool) => {
      const result = String(await plugin.call(tool))
      expect(result).toMatch(/^blocked: /)
      expect(result).not.toContain(HOST_SECRET)
      expect(result).not.toContain(GRANTED)
    },
  )

  it('the broker still refuses an ungranted origin; a raw fetch is denied only from Node 25 on', async () => {
    const before = other.hits
    expect(String(await plugin.call('brokerFetch'))).toMatch(/^blocked: /)
    const raw = String(await plugin.call('rawFetch'))
    if (NODE_MAJOR >= 25) {
      expect(raw).toMatch(/^blocked: /)
      expect(other.hits).toBe(before)
    } else {
      // Node 20–24: the permission model does not cover the network (documented).
      expect(raw).toBe('reached')
    }
  })
})

// Issue 11's figures. Cold start of a plugin (host.start + first call, isolated tier) against a
// bare `node -e 0` spawn; a warm tool call through QuickJS, IPC and the broker to a loopback API
// (p50 and p99) against a direct fetch of the same API; resolution of 100 granted variables
// against reading them straight from the source; broker overhead per request against a direct
// fetch. Each baseline is measured in the same run.
import { spawnSync } from 'node:child_process'
import { mkdtemp } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { memoryDriver } from '@keyward/core/drivers/memory'
import { createBroker, createPluginHost, envSource } from '@keyward/sandbox'
import { medianMs, percentilesMs, report } from '../../../scripts/bench-kit.js'
import { _writePlugin } from '../src/_fixtures.js'

const server = createServer((_req, res) => {
  res.setHeader('content-type', 'application/json')
  res.end('{"ok":true}')
})
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`

const env: Record<string, string> = {}
const envManifest: Record<string, string> = {}
for (let i = 0; i < 100; i++) {
  env[`BENCH_VAR_${i}`] = `value-${i}-${'x'.repeat(24)}`
  envManifest[`VAR_${i}`] = `BENCH_VAR_${i}`
}
const root = await mkdtemp(join(tmpdir(), 'keyward-sandbox-bench-'))
const pluginDir = await _writePlugin(join(root, 'plugin'), {
  'package.json': {
    name: 'bench',
    type: 'module',
    main: './index.js',
    keyward: { permissions: './permissions.json' },
  },
  'permissions.json': { env: envManifest, network: [origin] },
  'index.js': `export default function main(env, ctx) {
  return { async noop() { return 1 }, async get() { const r = await ctx.fetch('${origin}/'); return r.status } }
}`,
})
const host = createPluginHost({
  dataDir: join(root, 'data'),
  store: memoryDriver(),
  sources: { ENV: envSource(env) },
  allowLoopback: true,
  prompt: async (request) =>
    request.kind === 'env' ? { grant: true, source: 'ENV' } : { grant: true },
})
const { id } = await host.link(pluginDir)

const cold = await medianMs(async () => {
  const plugin = await host.start(id)
  await plugin.call('noop')
  await plugin.stop()
}, 5)
const bare = await medianMs(() => spawnSync(process.execPath, ['-e', '0']), 5)
report({
  group: 'sandbox',
  name: 'cold start: host.start + first call (isolated)',
  value: cold,
  unit: 'ms',
  baseline: { name: 'spawn node -e 0', value: bare },
  higherIsBetter: false,
})

const direct = await percentilesMs(() => fetch(`${origin}/`).then((r) => r.text()), 500)
const plugin = await host.start(id)
const warm = await percentilesMs(() => plugin.call('get'), 500)
await plugin.stop()
report({
  group: 'sandbox',
  name: 'warm tool call via QuickJS + broker, p50',
  value: warm.p50,
  unit: 'ms',
  baseline: { name: 'direct fetch p50', value: direct.p50 },
  higherIsBetter: false,
  goal: 'p50 ≤ 2 ms',
})
report({
  group: 'sandbox',
  name: 'warm tool call via QuickJS + broker, p99',
  value: warm.p99,
  unit: 'ms',
  baseline: { name: 'direct fetch p99', value: direct.p99 },
  higherIsBetter: false,
  goal: 'p99 ≤ 10 ms',
})

const source = envSource(env)
const resolve100 = await medianMs(() => host.resolveEnv(id), 20)
const read100 = await medianMs(() => source.resolve(Object.keys(env)), 20)
report({
  group: 'sandbox',
  name: 'resolveEnv, 100 granted variables (audited)',
  value: resolve100,
  unit: 'ms',
  baseline: { name: 'read from the source', value: read100 },
  higherIsBetter: false,
})

const broker = createBroker({ allowLoopback: true })
const brokered = await percentilesMs(() => broker.execute({ url: `${origin}/` }), 500)
report({
  group: 'sandbox',
  name: 'broker.execute per request, p50',
  value: brokered.p50,
  unit: 'ms',
  baseline: { name: 'direct fetch p50', value: direct.p50 },
  higherIsBetter: false,
})

server.close()

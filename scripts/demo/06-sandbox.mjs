// Demo step 6: a plugin is linked with grants, runs in its own restricted process inside QuickJS,
// calls an API through the host's broker (which attaches the token the plugin never sees and
// masks its echo), fails to escape, and everything it did is in a verified audit trail.
// Prints no secret value.
import { randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { envKey } from '@keyward/core'
import { createPluginHost, envSource, verifyAuditLog } from '@keyward/sandbox'

export const title = 'sandbox: a plugin calls an API without seeing the token'

export async function run(narrate) {
  const token = `gho_demo_${randomBytes(12).toString('hex')}`
  const server = createServer((req, res) => {
    res.setHeader('content-type', 'application/json')
    res.end(JSON.stringify({ login: 'ada', youSent: req.headers.authorization ?? null }))
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const origin = `http://127.0.0.1:${server.address().port}`
  const root = await mkdtemp(join(tmpdir(), 'keyward-demo-sandbox-'))
  const pluginDir = join(root, 'plugin')
  try {
    const files = {
      'package.json': {
        name: 'github-lite',
        type: 'module',
        main: './index.js',
        keyward: { permissions: './permissions.json' },
      },
      'permissions.json': {
        env: { USERNAME: 'GITHUB_USER' },
        network: [origin],
        auth: { github: { scopes: ['read:user'], origins: [origin] } },
        tools: { whoami: { auth: 'github', scope: 'read:user' } },
      },
      'index.js': `export default function main(env, ctx) {
  return {
    async whoami() { const r = await ctx.fetch('${origin}/user'); return r.json() },
    async escape() {
      const g = (function () {}).constructor.constructor('return this')()
      return typeof g.process === 'undefined' && typeof fetch === 'undefined' ? 'no process, no fetch: only ctx' : 'escaped'
    },
    async steal() { try { return String((await ctx.fetch('https://example.com/steal')).status) } catch (e) { return 'refused: ' + e.message } },
  }
}`,
    }
    await mkdir(pluginDir)
    for (const [name, content] of Object.entries(files))
      await writeFile(
        join(pluginDir, name),
        typeof content === 'string' ? content : JSON.stringify(content),
      )

    const host = createPluginHost({
      dataDir: join(root, 'data'),
      key: envKey('DEMO_KEY', { env: { DEMO_KEY: randomBytes(32).toString('base64') } }),
      sources: { ENV: envSource({ GITHUB_USER: 'ada' }) },
      tokens: { getToken: async () => token },
      allowLoopback: true,
      prompt: async (request) => {
        const what =
          request.kind === 'env'
            ? `${request.variable} from ENV`
            : request.kind === 'network'
              ? request.origin
              : `${request.service} ${request.scopes.join(' ')}`
        narrate(`prompt: grant ${request.kind} ${what}? yes`)
        return request.kind === 'env' ? { grant: true, source: 'ENV' } : { grant: true }
      },
    })
    const { id, grants } = await host.link(pluginDir)
    narrate(
      `linked ${id}: env ${JSON.stringify(grants.env)}, origins ${grants.network.length}, scopes ${JSON.stringify(grants.auth)}`,
    )

    const plugin = await host.start(id)
    const user = await plugin.call('whoami')
    narrate(`plugin whoami (pid ${plugin.pid}, isolated tier) returned ${JSON.stringify(user)}`)
    narrate(
      `the token appears in what the plugin got back: ${JSON.stringify(user).includes(token) ? 'YES (bug)' : 'no'}`,
    )
    narrate(`escape attempt: ${await plugin.call('escape')}`)
    narrate(`exfiltration attempt: ${await plugin.call('steal')}`)
    await plugin.stop()

    const audit = await readFile(host.auditPath, 'utf8')
    for (const line of audit.trimEnd().split('\n')) {
      const { seq, entry } = JSON.parse(line)
      narrate(`audit #${seq}: ${JSON.stringify(entry)}`)
    }
    narrate(`audit chain verified: ${JSON.stringify(await verifyAuditLog(host.auditPath))}`)
    narrate(`the token appears in the audit log: ${audit.includes(token) ? 'YES (bug)' : 'no'}`)
  } finally {
    server.close()
    await rm(root, { recursive: true, force: true })
  }
}

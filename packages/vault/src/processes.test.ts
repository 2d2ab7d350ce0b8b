// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${secret.…} references are the subject of these tests
// Tests with real processes: they import the BUILT package (run `npx turbo run build` first).
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { expectKeywardError } from '@keyward/core/testing'
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { assertBuilt } from '../../../test/_built.js'
import { _assertNoLeak, _put, type _TempVault, _tempVault, CANARY } from './_helpers.js'

const here = fileURLToPath(new URL('.', import.meta.url))
const CHILD = join(here, '_child.mjs')
const GIT_HELPER = join(here, '_git-helper.mjs')
const execFileAsync = promisify(execFile)

beforeAll(() => assertBuilt(['core', 'templating', 'vault']))

let t: _TempVault
beforeEach(async () => {
  t = await _tempVault()
})
afterEach(async () => {
  await t.cleanup()
})

interface Started {
  child: ChildProcess
  lines: string[]
  results: () => Record<string, unknown>[]
  waitFor: (predicate: (line: string) => boolean) => Promise<void>
  exited: Promise<number | null>
}

function start(op: string, args: unknown, env: Record<string, string | undefined> = {}): Started {
  const child = spawn(process.execPath, [CHILD, op, JSON.stringify(args)], {
    env: { ...process.env, KEYWARD_KEY: t.keyText, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const lines: string[] = []
  const waiters: (() => void)[] = []
  let buffer = ''
  child.stdout!.on('data', (chunk: Buffer) => {
    buffer += chunk.toString('utf8')
    const parts = buffer.split('\n')
    buffer = parts.pop()!
    lines.push(...parts)
    for (const w of waiters.splice(0)) w()
  })
  child.stderr!.on('data', (chunk: Buffer) => lines.push(`stderr: ${chunk}`))
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)))
  return {
    child,
    lines,
    exited,
    results: () => lines.filter((l) => l.startsWith('RESULT ')).map((l) => JSON.parse(l.slice(7))),
    waitFor: async (predicate) => {
      while (!lines.some(predicate)) {
        const done = await Promise.race([
          new Promise<boolean>((r) => waiters.push(() => r(false))),
          exited.then(() => true),
        ])
        if (done && !lines.some(predicate))
          throw new Error(`child exited without the expected line:\n${lines.join('\n')}`)
      }
    },
  }
}

/** Lets children that wait for the file `go` start at once; returns each one's last result. */
async function releaseTogether(children: Started[], go: string) {
  for (const c of children) await c.waitFor((l) => l.includes('"ready"'))
  await writeFile(go, '')
  await Promise.all(children.map((c) => c.exited))
  return children.map((c) => c.results().at(-1)!)
}

describe('across processes (built package)', () => {
  it('two processes updating the same secret with ifVersion: exactly one wins', async () => {
    await t.vault.collections.create({ slug: 'app' })
    const { TOKEN: id } = await _put(t.vault, 'app', { TOKEN: 'original-value' })
    const go = join(t.dir, 'go')
    const children = ['from-a-process', 'from-b-process'].map((value) =>
      start('update', { path: t.path, id, value, ifVersion: 1, go }),
    )
    const outcomes = await releaseTogether(children, go)
    expect(outcomes.filter((o) => o.ok === true)).toHaveLength(1)
    expect(outcomes.filter((o) => o.ok === false).map((o) => o.code)).toEqual([
      'KEYWARD_VERSION_CONFLICT',
    ])
    const winner = children[outcomes.findIndex((o) => o.ok)]!
    const secret = await t.vault.secrets.get(id)
    expect(secret.version).toBe(2)
    expect(secret.value).toBe(winner === children[0] ? 'from-a-process' : 'from-b-process')
  })

  it('a crash between the record write and the head write does not let a cached process create a second secret of that name (regression)', async () => {
    await t.vault.collections.create({ slug: 'app' })
    expect(await t.vault.secrets.list({ collection: 'app' })).toEqual([]) // a cached snapshot
    const crashed = start('crash-create', { path: t.path, name: 'TOKEN', value: 'crashed-writer' })
    await crashed.exited
    expect(crashed.child.signalCode).toBe('SIGKILL')
    expect(crashed.results()).toEqual([])
    await expectKeywardError(
      t.vault.secrets.create({ collection: 'app', name: 'TOKEN', value: 'second-writer' }),
      'KEYWARD_VAULT_DUPLICATE',
    )
    expect((await t.vault.secrets.list({ collection: 'app' })).map((s) => s.name)).toEqual([
      'TOKEN',
    ])
    expect(await t.vault.resolveEnvironment({ collection: 'app' })).toEqual({
      TOKEN: 'crashed-writer',
    })
    // The next completed write leaves a clean head again; a fresh process sees the same.
    await t.vault.secrets.create({ collection: 'app', name: 'OTHER', value: 'other-value' })
    expect(await (await t.reopen()).resolveEnvironment({ collection: 'app' })).toEqual({
      OTHER: 'other-value',
      TOKEN: 'crashed-writer',
    })
  })

  it('two processes creating the same collection: one gets KEYWARD_VAULT_DUPLICATE', async () => {
    const go = join(t.dir, 'go-create')
    const children = [0, 1].map(() =>
      start('create-collection', { path: t.path, slug: 'raced', go }),
    )
    const outcomes = await releaseTogether(children, go)
    expect(outcomes.filter((o) => o.ok === true)).toHaveLength(1)
    expect(outcomes.filter((o) => o.ok === false).map((o) => o.code)).toEqual([
      'KEYWARD_VAULT_DUPLICATE',
    ])
    expect((await t.vault.collections.list()).map((c) => c.slug)).toEqual(['raced'])
  })

  it('run forwards a signal to the child and returns its exit code', async () => {
    await t.vault.collections.create({ slug: 'app' })
    await t.vault.secrets.create({ collection: 'app', name: 'TOKEN', value: CANARY })
    const script =
      "process.on('SIGTERM', () => { console.log('child got SIGTERM ' + process.env.TOKEN); process.exit(42) }); console.log('ready'); setInterval(() => {}, 1000)"
    const runner = start('run', {
      path: t.path,
      run: { collection: 'app', command: process.execPath, args: ['-e', script] },
    })
    await runner.waitFor((l) => l === 'ready')
    runner.child.kill('SIGTERM')
    await runner.exited
    expect(runner.lines).toContain('child got SIGTERM ${secret.app/TOKEN}')
    expect(runner.results().at(-1)).toEqual({ exitCode: 42, signal: null })
    _assertNoLeak(runner.lines)
  })

  it('passes the terminal through when masking is off, and pipes it when on', async () => {
    await t.vault.collections.create({ slug: 'app' })
    const check = (mask: boolean) =>
      execFileAsync('script', ['-qec', `"${process.execPath}" "${CHILD}" run`, '/dev/null'], {
        env: {
          ...process.env,
          KEYWARD_KEY: t.keyText,
          CHILD_ARGS: JSON.stringify({
            path: t.path,
            run: {
              collection: 'app',
              command: process.execPath,
              args: ['-e', "console.log('isTTY=' + Boolean(process.stdout.isTTY))"],
              mask,
            },
          }),
        },
      })
    expect((await check(false)).stdout).toContain('isTTY=true')
    expect((await check(true)).stdout).toContain('isTTY=false')
  })

  it('openVault() without a keyring or key fails with the fix and writes nothing', async () => {
    const home = join(t.dir, 'home')
    await mkdir(home)
    const env = {
      HOME: home,
      XDG_DATA_HOME: join(home, 'data'),
      KEYWARD_KEY: '',
      DBUS_SESSION_BUS_ADDRESS: `unix:path=${join(t.dir, 'no-bus')}`,
      KEYWARD_VAULT_PATH: '',
    }
    const child = start('open-default', {}, env)
    await child.exited
    const outcome = child.results().at(-1)!
    expect(outcome.code).toBe('KEYWARD_VAULT_NO_KEY')
    expect(outcome.message).toContain('KEYWARD_KEY')
    expect(outcome.message).toContain('passphraseKey')
    expect(existsSync(join(home, 'data', 'keyward', 'vault.kwd'))).toBe(false)
  })

  it('openVault() with KEYWARD_KEY set creates the vault at the documented per-user path', async () => {
    const home = join(t.dir, 'home2')
    await mkdir(home)
    const child = start(
      'open-default',
      {},
      { HOME: home, XDG_DATA_HOME: join(home, 'data'), KEYWARD_VAULT_PATH: '' },
    )
    await child.exited
    expect(child.results().at(-1)).toEqual({ ok: true })
    expect(existsSync(join(home, 'data', 'keyward', 'vault.kwd'))).toBe(true)
  })
})

describe('git credential helper with the real git', () => {
  function fill(
    input: string,
    home: string,
    helper = `!"${process.execPath}" "${GIT_HELPER}"`,
  ): Promise<{ stdout: string; code: number | null }> {
    const child = spawn(
      'git',
      [
        '-c',
        'credential.useHttpPath=true',
        '-c',
        `credential.helper=${helper}`,
        'credential',
        'fill',
      ],
      {
        env: {
          PATH: process.env.PATH,
          HOME: home,
          XDG_CONFIG_HOME: join(home, '.config'),
          GIT_CONFIG_NOSYSTEM: '1',
          GIT_TERMINAL_PROMPT: '0',
          KEYWARD_KEY: t.keyText,
          VAULT_PATH: t.path,
          VAULT_COLLECTION: 'git',
        },
        stdio: ['pipe', 'pipe', 'pipe'],
      },
    )
    let stdout = ''
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8')
    })
    child.stderr.resume()
    child.stdin.end(input)
    return new Promise((resolve) => child.on('close', (code) => resolve({ stdout, code })))
  }

  it('answers git credential fill with the login whose url matches protocol, host and path', async () => {
    const home = join(t.dir, 'home')
    await mkdir(home)
    const { vault } = t
    await vault.collections.create({ slug: 'git' })
    await vault.secrets.create({
      collection: 'git',
      name: 'ACME',
      type: 'login',
      fields: { username: 'ci-bot', password: CANARY, url: 'https://git.acme.test' },
    })
    await vault.secrets.create({
      collection: 'git',
      name: 'ACME_TEAM',
      type: 'login',
      fields: {
        username: 'team-bot',
        password: 'team-password-1',
        url: 'https://git.acme.test/team',
      },
    })
    await vault.secrets.create({
      collection: 'git',
      name: 'OTHER',
      type: 'login',
      fields: { username: 'x', password: 'other-password', url: 'http://git.acme.test:8080' },
    })

    const host = await fill('protocol=https\nhost=git.acme.test\n\n', home)
    expect(host.stdout).toContain('username=ci-bot')
    expect(host.stdout).toContain(`password=${CANARY}`)

    const path = await fill('protocol=https\nhost=git.acme.test\npath=team/repo.git\n\n', home)
    expect(path.stdout).toContain('username=team-bot')

    const port = await fill('protocol=http\nhost=git.acme.test:8080\n\n', home)
    expect(port.stdout).toContain('password=other-password')

    // No match: git gets nothing from the helper and, with prompts off, fails.
    const none = await fill('protocol=https\nhost=unknown.test\n\n', home)
    expect(none.stdout).not.toContain('password=')
    expect(none.code).not.toBe(0)
    expect(host.code).toBe(0)
  })

  it('matches percent-encoded paths and an explicit default port as git sends them, like git credential-store (regression)', async () => {
    const home = join(t.dir, 'home')
    await mkdir(home)
    await t.vault.collections.create({ slug: 'git' })
    const logins = [
      ['ORG', 'https://git.acme.test/My%20Org', 'org-password-1'],
      ['CAFE', 'https://git.acme.test/caf%C3%A9', 'cafe-password-2'],
      ['PORT', 'https://port.acme.test:443/team', 'port-password-3'],
    ] as const
    for (const [name, url, password] of logins)
      await t.vault.secrets.create({
        collection: 'git',
        name,
        type: 'login',
        fields: { username: 'bot', password, url },
      })
    const store = join(t.dir, 'git-credentials')
    await writeFile(
      store,
      logins
        .map(([, url, password]) => url.replace('https://', `https://bot:${password}@`))
        .join('\n'),
    )
    const password = (out: { stdout: string }) => /^password=(.*)$/m.exec(out.stdout)?.[1]
    for (const [, url, expected] of logins) {
      const ours = await fill(`url=${url}\n\n`, home)
      const gits = await fill(`url=${url}\n\n`, home, `store --file=${store}`)
      expect([password(ours), password(gits)]).toEqual([expected, expected])
    }
    // git's store compares hosts as written; the vault treats the default port as the same origin.
    expect(password(await fill('url=https://port.acme.test/team/repo.git\n\n', home))).toBe(
      'port-password-3',
    )
    expect(password(await fill('url=https://git.acme.test/My%20Org/repo.git\n\n', home))).toBe(
      'org-password-1',
    )
  })
})

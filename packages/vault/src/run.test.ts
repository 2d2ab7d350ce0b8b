// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${secret.…} references are the subject of these tests
import { existsSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { expectKeywardError } from '@keyward/core/testing'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { _assertNoLeak, _put, type _TempVault, _tempVault, CANARY } from './_helpers.js'

function sink(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough()
  const chunks: Buffer[] = []
  stream.on('data', (chunk: Buffer) => chunks.push(chunk))
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') }
}

// A child that writes `text` to stdout one byte per write, yielding between writes.
const DRIP = `
const fs = require('node:fs')
const bytes = Buffer.from(process.argv[1])
let i = 0
const next = () => { if (i >= bytes.length) return; fs.writeSync(1, bytes.subarray(i, i + 1)); i++; setImmediate(next) }
next()
`

let t: _TempVault
beforeEach(async () => {
  t = await _tempVault()
  await t.vault.collections.create({ slug: 'app' })
  await t.vault.environments.create({ collection: 'app', slug: 'dev' })
  await _put(t.vault, 'app/dev', { TOKEN: CANARY })
  await _put(t.vault, 'app', {
    GREETING: 'hello from the vault',
    DB_PASSWORD_PART: 'part-9f8e7d6c5b',
    DATABASE_URL: 'postgres://u:${secret.DB_PASSWORD_PART}@db/app',
  })
})
afterEach(async () => {
  await t.cleanup()
})

describe('vault.run', () => {
  it('gives the child its secrets and masks them even when printed one byte per chunk', async () => {
    const out = sink()
    const err = sink()
    const payload = [
      `raw=${CANARY}`,
      `b64=${Buffer.from(CANARY).toString('base64')}`,
      `json=${JSON.stringify({ t: CANARY })}`,
      'part=part-9f8e7d6c5b',
      'greeting=hello from the vault',
    ].join('\n')
    const result = await t.vault.run({
      collection: 'app',
      environment: 'dev',
      command: process.execPath,
      args: ['-e', `${DRIP}; process.stderr.write(process.env.TOKEN)`, payload],
      stdout: out.stream,
      stderr: err.stream,
    })
    expect(result).toEqual({ exitCode: 0, signal: null })
    const text = out.text()
    _assertNoLeak([text, err.text()])
    expect(text).not.toContain('part-9f8e7d6c5b')
    expect(text).toContain('raw=${secret.app/dev/TOKEN}')
    expect(text).toContain('part=${secret.')
    expect(err.text()).toBe('${secret.app/dev/TOKEN}')
  })

  it('really injects the values (checked inside the child, not printed)', async () => {
    const out = sink()
    const result = await t.vault.run({
      collection: 'app',
      environment: 'dev',
      command: process.execPath,
      args: [
        '-e',
        `process.exit(process.env.TOKEN === ${JSON.stringify(CANARY)} && process.env.DATABASE_URL === 'postgres://u:part-9f8e7d6c5b@db/app' ? 0 : 3)`,
      ],
      stdout: out.stream,
    })
    expect(result.exitCode).toBe(0)
  })

  it('returns the exit code and the signal', async () => {
    const base = {
      collection: 'app',
      environment: 'dev',
      command: process.execPath,
      stdout: sink().stream,
      stderr: sink().stream,
    }
    expect(await t.vault.run({ ...base, args: ['-e', 'process.exit(7)'] })).toEqual({
      exitCode: 7,
      signal: null,
    })
    expect(
      await t.vault.run({ ...base, args: ['-e', "process.kill(process.pid, 'SIGKILL')"] }),
    ).toEqual({ exitCode: null, signal: 'SIGKILL' })
  })

  it('without masking, passes output through unchanged', async () => {
    const out = sink()
    await t.vault.run({
      collection: 'app',
      command: process.execPath,
      args: ['-e', 'process.stdout.write(process.env.GREETING)'],
      mask: false,
      stdout: out.stream,
    })
    expect(out.text()).toBe('hello from the vault')
  })

  it('reports a command that cannot start, and validates options before resolving', async () => {
    const error = await expectKeywardError(
      t.vault.run({ collection: 'app', command: 'keyward-no-such-command-x' }),
      'KEYWARD_VAULT_SPAWN_FAILED',
    )
    expect(error.message).toContain('keyward-no-such-command-x')
    expect(
      (
        await expectKeywardError(
          t.vault.run({ collection: 'app', command: '' }),
          'KEYWARD_INVALID_ARGUMENT',
        )
      ).message,
    ).toContain('`command`')
    expect(
      (
        await expectKeywardError(
          t.vault.run({ collection: 'app', command: 'x', args: 'a' as never }),
          'KEYWARD_INVALID_ARGUMENT',
        )
      ).message,
    ).toContain('`args`')
  })
})

describe('vault.run hardening', () => {
  it('a NUL in a secret value fails before spawning, never quoting it (regression: spawn’s ERR_INVALID_ARG_VALUE quoted the secret)', async () => {
    await t.vault.secrets.create({ collection: 'app', name: 'WITH_NUL', value: `${CANARY}\0tail` })
    const error = await expectKeywardError(
      t.vault.run({ collection: 'app', command: process.execPath, args: ['-e', ''] }),
      'KEYWARD_VAULT_UNREPRESENTABLE',
    )
    expect(error.details.name).toBe('WITH_NUL')
    _assertNoLeak([error, error.message, error.cause])
  })

  it('an argument, cwd or env value with a NUL is an argument error that never quotes it', async () => {
    const run = (extra: object) =>
      t.vault.run({ collection: 'app', command: process.execPath, args: [], ...extra })
    for (const [extra, option] of [
      [{ args: [`${CANARY}\0`] }, '`args`'],
      [{ cwd: `/tmp/${CANARY}\0` }, '`cwd`'],
      [{ env: { HOST_TOKEN: `${CANARY}\0` } }, '`env`'],
    ] as const) {
      const error = await expectKeywardError(run(extra), 'KEYWARD_INVALID_ARGUMENT')
      expect(error.message).toContain(option)
      _assertNoLeak([error])
    }
  })

  it('refuses to inject NODE_OPTIONS, PATH, LD_*, DYLD_*, BASH_FUNC_* unless allowed by name (regression: a stored NODE_OPTIONS ran code)', async () => {
    const marker = join(t.dir, 'evil-ran')
    const evil = join(t.dir, 'evil.cjs')
    await writeFile(evil, `require('node:fs').writeFileSync(${JSON.stringify(marker)}, 'x')`)
    const { NODE_OPTIONS: id } = await _put(t.vault, 'app', { NODE_OPTIONS: `--require ${evil}` })
    const run = (extra: object = {}) =>
      t.vault.run({
        collection: 'app',
        command: process.execPath,
        args: ['-e', ''],
        stdout: sink().stream,
        stderr: sink().stream,
        ...extra,
      })
    const error = await expectKeywardError(run(), 'KEYWARD_VAULT_UNSAFE_NAME')
    expect(error.details.name).toBe('NODE_OPTIONS')
    expect(error.message).toContain('allowUnsafeNames')
    expect(existsSync(marker)).toBe(false)
    // Allowed by name, it is injected as asked.
    expect((await run({ allowUnsafeNames: ['NODE_OPTIONS'] })).exitCode).toBe(0)
    expect(existsSync(marker)).toBe(true)
    await t.vault.secrets.delete(id)
    for (const name of [
      'PATH',
      'LD_PRELOAD',
      'DYLD_INSERT_LIBRARIES',
      'BASH_FUNC_ls',
      'BASH_ENV',
    ]) {
      const created = await t.vault.secrets.create({ collection: 'app', name, value: 'x' })
      const refused = await expectKeywardError(run(), 'KEYWARD_VAULT_UNSAFE_NAME')
      expect([refused.code, refused.details.name]).toEqual(['KEYWARD_VAULT_UNSAFE_NAME', name])
      await t.vault.secrets.delete(created.id)
    }
  })

  it('refuses to inject a value masking cannot hide unless allowed by name (regression: a 6-digit PIN ran unmasked with only a warning to a silent logger)', async () => {
    await t.vault.secrets.create({ collection: 'app', name: 'PIN', value: '482913' })
    const out = sink()
    const run = (extra: object = {}) =>
      t.vault.run({
        collection: 'app',
        command: process.execPath,
        args: ['-e', 'process.stdout.write(process.env.PIN ?? "unset")'],
        stdout: out.stream,
        stderr: sink().stream,
        ...extra,
      })
    const error = await expectKeywardError(run(), 'KEYWARD_VALUE_UNMASKABLE')
    expect(error.message).toContain('PIN')
    expect(error.message).toContain('allowUnmasked')
    expect(error.details.references).toEqual([
      { raw: 'PIN', reason: 'too_short', length: 6, minLength: 8 },
    ])
    _assertNoLeak([error], '482913')
    expect(out.text()).toBe('')
    // Allowed by name (or with masking off), it runs; the value is then visible, as asked.
    expect((await run({ allowUnmasked: ['PIN'] })).exitCode).toBe(0)
    expect((await run({ mask: false })).exitCode).toBe(0)
  })
})

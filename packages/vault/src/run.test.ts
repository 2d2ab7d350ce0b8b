// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${secret.…} references are the subject of these tests
import { PassThrough } from 'node:stream'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { _assertNoLeak, _failure, type _TempVault, _tempVault, CANARY } from './_helpers.js'

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
  await t.vault.secrets.create({
    collection: 'app',
    environment: 'dev',
    name: 'TOKEN',
    value: CANARY,
  })
  await t.vault.secrets.create({
    collection: 'app',
    name: 'GREETING',
    value: 'hello from the vault',
  })
  await t.vault.secrets.create({
    collection: 'app',
    name: 'DB_PASSWORD_PART',
    value: 'part-9f8e7d6c5b',
  })
  await t.vault.secrets.create({
    collection: 'app',
    name: 'DATABASE_URL',
    value: 'postgres://u:${secret.DB_PASSWORD_PART}@db/app',
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
    const error = await _failure(
      t.vault.run({ collection: 'app', command: 'keyward-no-such-command-x' }),
    )
    expect(error.code).toBe('KEYWARD_VAULT_SPAWN_FAILED')
    expect(error.message).toContain('keyward-no-such-command-x')
    expect((await _failure(t.vault.run({ collection: 'app', command: '' }))).message).toContain(
      '`command`',
    )
    expect(
      (await _failure(t.vault.run({ collection: 'app', command: 'x', args: 'a' as never })))
        .message,
    ).toContain('`args`')
  })
})

import { spawn } from 'node:child_process'
import { appendFile, mkdtemp, readFile, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { createAuditLog, verifyAuditLog } from './audit.js'
import { KEYWARD_INVALID_ARGUMENT, KEYWARD_STORE_CORRUPT } from './errors.js'
import { expectKeywardError } from './test-kit.js'

async function logWith(count: number) {
  const dir = await mkdtemp(join(tmpdir(), 'keyward-audit-'))
  const audit = createAuditLog({
    path: join(dir, 'sub', 'audit.jsonl'),
    clock: () => 1_700_000_000_000,
  })
  for (let i = 0; i < count; i++)
    await audit.append({ type: 'grant', plugin: 'p', variable: `V${i}` })
  return audit
}

async function lines(path: string): Promise<string[]> {
  return (await readFile(path, 'utf8')).split('\n').filter((line) => line !== '')
}

describe('audit log', () => {
  it('chains each line to the one before it and verifies', async () => {
    const audit = await logWith(3)
    const written = (await lines(audit.path)).map((line) => JSON.parse(line))
    expect(written.map((line) => line.seq)).toEqual([1, 2, 3])
    expect(written[0].prev).toBe('0'.repeat(64))
    expect(written[1].prev).toBe(written[0].hash)
    expect(written[2].entry).toEqual({ type: 'grant', plugin: 'p', variable: 'V2' })
    expect(written[0].time).toBe('2023-11-14T22:13:20.000Z')
    expect(await verifyAuditLog(audit.path)).toEqual({ ok: true, lines: 3, head: written[2].hash })
    expect((await stat(audit.path)).mode & 0o777).toBe(0o600)
  })

  it('finds an edited line', async () => {
    const audit = await logWith(3)
    const text = await readFile(audit.path, 'utf8')
    await writeFile(audit.path, text.replace('"V1"', '"V9"'))
    expect(await verifyAuditLog(audit.path)).toMatchObject({ ok: false, line: 2, reason: 'edited' })
  })

  it('finds an edited line whose hash was recomputed (the next line no longer follows it)', async () => {
    const audit = await logWith(3)
    const all = await lines(audit.path)
    const record = JSON.parse(all[1] as string)
    record.entry.variable = 'V9'
    const { hash: _old, ...body } = record
    const { createHash } = await import('node:crypto')
    const text = JSON.stringify(body)
    const hash = createHash('sha256').update(text).digest('hex')
    all[1] = `${text.slice(0, -1)},"hash":"${hash}"}`
    await writeFile(audit.path, `${all.join('\n')}\n`)
    expect(await verifyAuditLog(audit.path)).toMatchObject({ ok: false, line: 3, reason: 'chain' })
  })

  it('finds a deleted line and a reordered pair', async () => {
    const audit = await logWith(4)
    const all = await lines(audit.path)
    await writeFile(audit.path, `${[all[0], all[2], all[3]].join('\n')}\n`)
    expect(await verifyAuditLog(audit.path)).toMatchObject({ ok: false, line: 2, reason: 'chain' })
    await writeFile(audit.path, `${[all[0], all[2], all[1], all[3]].join('\n')}\n`)
    expect(await verifyAuditLog(audit.path)).toMatchObject({ ok: false, line: 2, reason: 'chain' })
  })

  it('detects a cut-off tail only against a pinned head', async () => {
    const audit = await logWith(3)
    const all = await lines(audit.path)
    const pinned = await verifyAuditLog(audit.path)
    await writeFile(audit.path, `${all.slice(0, 2).join('\n')}\n`)
    expect((await verifyAuditLog(audit.path)).ok).toBe(true)
    expect(
      await verifyAuditLog(audit.path, { head: pinned.ok ? pinned.head : undefined }),
    ).toMatchObject({ ok: false, reason: 'head' })
  })

  it('cuts off a torn last line (a crash mid-write) before the next append', async () => {
    const audit = await logWith(2)
    await appendFile(audit.path, '{"seq":3,"ti')
    expect(await verifyAuditLog(audit.path)).toMatchObject({
      ok: false,
      line: 3,
      reason: 'truncated',
    })
    await audit.append({ type: 'revoke', plugin: 'p', variable: 'V0' })
    expect(await verifyAuditLog(audit.path)).toMatchObject({ ok: true, lines: 3 })
  })

  it('refuses to chain onto a last line it did not write', async () => {
    const audit = await logWith(1)
    await appendFile(audit.path, 'not a log line\n')
    await expectKeywardError(audit.append({ type: 'x' }), KEYWARD_STORE_CORRUPT)
    expect(await verifyAuditLog(audit.path)).toMatchObject({
      ok: false,
      line: 2,
      reason: 'malformed',
    })
  })

  it('refuses entries that would carry a value, at any depth', async () => {
    const audit = await logWith(0)
    for (const entry of [
      { type: 'x', value: 's3cret' },
      { type: 'x', nested: { deeper: [{ Token: 's3cret' }] } },
      { type: 'x', apiKey: 's3cret' },
      { type: '' },
      [] as unknown as { type: string },
    ]) {
      await expectKeywardError(audit.append(entry), KEYWARD_INVALID_ARGUMENT)
    }
    expect((await verifyAuditLog(audit.path)).ok).toBe(true)
  })

  it('validates its options eagerly, naming what is at fault', async () => {
    const bad: [unknown, string][] = [
      [null, 'createAuditLog needs an options object'],
      [[], 'createAuditLog needs an options object'],
      [{ path: '' }, 'option `path`'],
      [{ path: 'a\0b' }, 'option `path`'],
      [{ path: join(tmpdir(), 'a.jsonl'), clock: 3 }, 'option `clock` must be a function'],
    ]
    for (const [options, named] of bad) {
      const error = await expectKeywardError(
        () => createAuditLog(options as never),
        KEYWARD_INVALID_ARGUMENT,
      )
      expect(error.message, JSON.stringify(options)).toContain(named)
    }
  })

  it('a missing file is an empty, valid log', async () => {
    expect(await verifyAuditLog(join(tmpdir(), 'keyward-no-such-audit.jsonl'))).toEqual({
      ok: true,
      lines: 0,
      head: '0'.repeat(64),
    })
  })

  it('appends made at once are written in the order they were made; one too large fails alone', async () => {
    const audit = await logWith(1)
    const big = { type: 'grant', plugin: 'p', note: 'x'.repeat(70 * 1024) }
    const appends = Array.from({ length: 40 }, (_, i) =>
      audit.append(i === 7 ? big : { type: 'grant', plugin: 'p', variable: `W${i}` }),
    )
    await expectKeywardError(appends[7] as Promise<unknown>, KEYWARD_INVALID_ARGUMENT)
    const records = await Promise.all(appends.filter((_, i) => i !== 7))
    expect(records.map((record) => record.seq)).toEqual(Array.from({ length: 39 }, (_, i) => i + 2))
    const written = (await lines(audit.path)).map((line) => JSON.parse(line))
    expect(written.map((line) => line.entry.variable)).toEqual([
      'V0',
      ...Array.from({ length: 40 }, (_, i) => `W${i}`).filter((_, i) => i !== 7),
    ])
    expect(await verifyAuditLog(audit.path)).toMatchObject({ ok: true, lines: 40 })
  })

  it('keeps one chain when several processes append at once', async () => {
    const audit = await logWith(0)
    const url = new URL('./audit.ts', import.meta.url).href
    const child = (n: number) =>
      new Promise<void>((resolve, reject) => {
        const code = `const { createAuditLog } = await import(${JSON.stringify(url)}); const a = createAuditLog({ path: ${JSON.stringify(audit.path)} }); for (let i = 0; i < 10; i++) await a.append({ type: 'p${n}', i })`
        const proc = spawn(
          process.execPath,
          ['--import', 'tsx', '--input-type=module', '-e', code],
          {
            stdio: 'inherit',
          },
        )
        proc.on('exit', (status) =>
          status === 0 ? resolve() : reject(new Error(`child ${status}`)),
        )
      })
    await Promise.all([child(1), child(2), child(3)])
    expect(await verifyAuditLog(audit.path)).toMatchObject({ ok: true, lines: 30 })
  })

  it('verification never throws on arbitrary file contents (property)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'keyward-audit-prop-'))
    const path = join(dir, 'audit.jsonl')
    const audit = await logWith(3)
    const good = await readFile(audit.path, 'utf8')
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string(),
          fc
            .nat({ max: good.length })
            .chain((at) =>
              fc.string({ maxLength: 8 }).map((junk) => good.slice(0, at) + junk + good.slice(at)),
            ),
        ),
        async (text) => {
          await writeFile(path, text)
          const result = await verifyAuditLog(path)
          expect(typeof result.ok).toBe('boolean')
        },
      ),
      { numRuns: 200 },
    )
  })
})

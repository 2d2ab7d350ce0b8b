// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${secret.…} references are the subject of these tests
import { readdirSync } from 'node:fs'
import { readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { parseEnv } from 'node:util'
import { expectKeywardError } from '@keyward/core/testing'
import dotenv from 'dotenv'
import fc from 'fast-check'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { _assertNoLeak, _put, type _TempVault, _tempVault, CANARY } from './_helpers.js'
import { quoteDotenvOrNull as _quoteDotenv } from './internal/formats.js'

/** The documented dotenv rule, stated independently of the implementation. */
function dotenvRefuses(value: string): boolean {
  return (
    /[\r\0]/.test(value) ||
    value.endsWith('\\') ||
    !isWellFormed(value) ||
    (value.includes("'") && /["$`]|\\[nr]/.test(value))
  )
}

function isWellFormed(value: string): boolean {
  return !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(value)
}

describe('dotenv quoting', () => {
  it('reads back exactly through Node’s dotenv parser and both of dotenv’s, or refuses (property)', () => {
    let refused = 0
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({
            unit: fc.constantFrom(
              'a',
              ' ',
              '\n',
              "'",
              '"',
              '`',
              '\\',
              'n',
              '#',
              '=',
              '$',
              '\t',
              'é',
              '\r',
            ),
            maxLength: 16,
          }),
          fc.string({ unit: 'binary', maxLength: 40 }),
        ),
        (value) => {
          const quoted = _quoteDotenv(value)
          if (quoted === null) {
            refused++
            // Refused only where the documented rule says so.
            expect(dotenvRefuses(value)).toBe(true)
            return
          }
          expect(dotenvRefuses(value)).toBe(false)
          expect(quoted).not.toMatch(/^`/)
          const text = `BEFORE='x'\nVALUE=${quoted}\nAFTER="y"\n`
          const expected = { BEFORE: 'x', VALUE: value, AFTER: 'y' }
          expect(parseEnv(text)).toEqual(expected)
          expect(dotenv.parse(text)).toEqual(expected)
          expect(dotenv.parse(text, { fast: true } as never)).toEqual(expected)
        },
      ),
      { numRuns: 3000 },
    )
    expect(refused).toBeLessThan(3000)
  })

  it('never refuses a value the documented rule allows (property)', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom('a', ' ', '\n', "'", '\\', '#', '$', '\t', '"', '`') }),
        (value) => {
          expect(_quoteDotenv(value) === null).toBe(dotenvRefuses(value))
        },
      ),
    )
  })

  it('escapes multi-line values as \\n inside double quotes', () => {
    expect(_quoteDotenv('-----BEGIN KEY-----\nabc\n-----END KEY-----')).toBe(
      '"-----BEGIN KEY-----\\nabc\\n-----END KEY-----"',
    )
    // Never backticks (a shell sourcing the file would run what is inside them).
    expect(_quoteDotenv("it's")).toBe(`"it's"`)
    expect(_quoteDotenv("it's $(id)")).toBeNull()
    expect(_quoteDotenv('plain # not a comment')).toBe("'plain # not a comment'")
  })
})

describe('vault.export', () => {
  let t: _TempVault
  beforeEach(async () => {
    t = await _tempVault()
    const { vault } = t
    await vault.collections.create({ slug: 'web' })
    await vault.environments.create({ collection: 'web', slug: 'prod' })
    await _put(vault, 'web', { VITE_API_URL: 'https://api.example.test' })
    await _put(vault, 'web/prod', {
      VITE_SENTRY_DSN: "https://k@o.ingest.test/1 'quoted'",
      SIGNING_KEY: '-----BEGIN KEY-----\nMIIB\n-----END KEY-----',
    })
  })
  afterEach(async () => {
    await t.cleanup()
  })

  it('writes dotenv that parses back to the resolved environment', async () => {
    const text = await t.vault.export({ collection: 'web', environment: 'prod', format: 'env' })
    expect(parseEnv(text)).toEqual(
      await t.vault.resolveEnvironment({ collection: 'web', environment: 'prod' }),
    )
    expect(text.split('\n')[0]).toBe('SIGNING_KEY="-----BEGIN KEY-----\\nMIIB\\n-----END KEY-----"')
  })

  it('exports only public names with publicPrefix', async () => {
    const text = await t.vault.export({
      collection: 'web',
      environment: 'prod',
      format: 'env',
      publicPrefix: 'VITE_',
    })
    expect(Object.keys(parseEnv(text))).toEqual(['VITE_API_URL', 'VITE_SENTRY_DSN'])
    expect(text).not.toContain('BEGIN KEY')
    const json = JSON.parse(
      await t.vault.export({
        collection: 'web',
        environment: 'prod',
        format: 'json',
        publicPrefix: 'VITE_',
      }),
    )
    expect(json).toEqual({
      VITE_API_URL: 'https://api.example.test',
      VITE_SENTRY_DSN: "https://k@o.ingest.test/1 'quoted'",
    })
  })

  it('writes a file only when asked, atomically and with mode 0600', async () => {
    const file = join(t.dir, 'build.env')
    const text = await t.vault.export({
      collection: 'web',
      environment: 'prod',
      format: 'env',
      file,
    })
    expect(await readFile(file, 'utf8')).toBe(text)
    if (process.platform !== 'win32') expect((await stat(file)).mode & 0o777).toBe(0o600)
    await t.vault.export({ collection: 'web', format: 'env', file })
    expect(parseEnv(await readFile(file, 'utf8'))).toEqual({
      VITE_API_URL: 'https://api.example.test',
    })
  })

  it('refuses a value dotenv cannot hold, naming the secret, not the value', async () => {
    await _put(t.vault, 'web', { WINDOWS_TEXT: 'line-one\r\nline-two' })
    const error = await expectKeywardError(
      t.vault.export({ collection: 'web', format: 'env' }),
      'KEYWARD_VAULT_UNREPRESENTABLE',
    )
    expect(error.details.name).toBe('WINDOWS_TEXT')
    expect(error.message).not.toContain('line-one')
    expect(
      JSON.parse(await t.vault.export({ collection: 'web', format: 'json' })).WINDOWS_TEXT,
    ).toBe('line-one\r\nline-two')
  })

  it('validates options, naming them', async () => {
    expect(
      (
        await expectKeywardError(
          t.vault.export({ collection: 'web', format: 'yaml' as never }),
          'KEYWARD_INVALID_ARGUMENT',
        )
      ).message,
    ).toContain('`format`')
    expect(
      (
        await expectKeywardError(
          t.vault.export({ collection: 'web', format: 'env', publicPrefix: 'X Y' }),
          'KEYWARD_INVALID_ARGUMENT',
        )
      ).message,
    ).toContain('`publicPrefix`')
  })
})

describe('vault.export hardening', () => {
  let t: _TempVault
  beforeEach(async () => {
    t = await _tempVault()
    await t.vault.collections.create({ slug: 'web' })
  })
  afterEach(async () => {
    await t.cleanup()
  })

  it('refuses a value with a NUL in every text format (regression: process.loadEnvFile truncated it)', async () => {
    await t.vault.secrets.create({ collection: 'web', name: 'NUL_VALUE', value: `${CANARY}\0tail` })
    for (const format of ['dotenv', 'env', 'shell', 'compose'] as const) {
      const error = await expectKeywardError(
        t.vault.export({ collection: 'web', format }),
        'KEYWARD_VAULT_UNREPRESENTABLE',
      )
      expect([error.code, error.details.name, error.details.format]).toEqual([
        'KEYWARD_VAULT_UNREPRESENTABLE',
        'NUL_VALUE',
        format,
      ])
      _assertNoLeak([error])
    }
    expect(JSON.parse(await t.vault.export({ collection: 'web', format: 'json' })).NUL_VALUE).toBe(
      `${CANARY}\0tail`,
    )
  })

  it('a file that cannot be written is a KeywardError naming the file (regression: raw ENOENT/EISDIR escaped)', async () => {
    await t.vault.secrets.create({ collection: 'web', name: 'A', value: CANARY })
    const missing = join(t.dir, 'no-such-dir', 'out.env')
    const enoent = await expectKeywardError(
      t.vault.export({ collection: 'web', format: 'dotenv', file: missing }),
      'KEYWARD_STORE_IO',
    )
    expect([enoent.code, enoent.details.errno, enoent.details.path]).toEqual([
      'KEYWARD_STORE_IO',
      'ENOENT',
      missing,
    ])
    const eisdir = await expectKeywardError(
      t.vault.export({ collection: 'web', format: 'dotenv', file: t.dir }),
      'KEYWARD_STORE_IO',
    )
    expect(typeof eisdir.details.errno).toBe('string')
    _assertNoLeak([enoent, eisdir])
    expect(readdirSync(t.dir).filter((f) => f.includes('.tmp-'))).toEqual([])
  })
})

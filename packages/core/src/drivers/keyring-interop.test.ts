// Issue 10, "OS keyring interop": what keyward stores in the Secret Service is read unchanged by
// the tools users already run, and what they stored is readable through keyward. The readers are
// real: secret-tool (Debian libsecret-tools) and Python keyring (Debian python3-keyring, its
// SecretService backend selected explicitly), in the same gnome-keyring session as the driver.
import { execFile, execFileSync } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { hasCommand, keyringTestEnv } from '../../../../test/_keyring.js'
import { KEYWARD_KEYRING_AMBIGUOUS, KEYWARD_STORE_CORRUPT } from '../errors.js'
import { expectKeywardError } from '../test-kit.js'
import { bytes, text } from './_file-kit.js'
import { keyringSuite, readRawEntry, writeRawEntry } from './_keyring-helpers.js'
import { keyringDriver, readForeignEntry } from './keyring.js'

const run = promisify(execFile)
const PYTHON = '/usr/bin/python3'

function readersMissing(): string | undefined {
  const missing: string[] = []
  if (!hasCommand('secret-tool')) missing.push('secret-tool (Debian libsecret-tools)')
  try {
    execFileSync(PYTHON, ['-c', 'import keyring.backends.SecretService, secretstorage'], {
      stdio: 'ignore',
    })
  } catch {
    missing.push(`Python keyring with secretstorage for ${PYTHON} (Debian python3-keyring)`)
  }
  return missing.length === 0 ? undefined : missing.join(' and ')
}

const env = await keyringTestEnv({ what: 'keyring interop' })
const missing = env.available ? readersMissing() : undefined
if (missing) {
  const why = `keyring interop tests need ${missing}`
  if (process.env.CI) throw new Error(`CI: ${why}; .ci/run installs them`)
  process.stderr.write(`skipping: ${why}\n`)
}

async function secretTool(...args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run('secret-tool', args)
}

/** Python keyring's SecretService backend, as a Python tool would use it. */
async function python(op: 'get' | 'set', service: string, account: string, value = '') {
  const script = `
import sys
from keyring.backends import SecretService
kr = SecretService.Keyring()
op, service, account, value = sys.argv[1:5]
if op == 'get':
    try:
        got = kr.get_password(service, account)
        print('VALUE:' + ('<none>' if got is None else got), end='')
    except Exception as error:
        print('ERROR:' + type(error).__name__, end='')
else:
    kr.set_password(service, account, value)
`
  const { stdout } = await run(PYTHON, ['-c', script, op, service, account, value])
  return stdout
}

describe.skipIf(!env.available || missing !== undefined)(
  'keyring interop with secret-tool and Python keyring (real gnome-keyring)',
  () => {
    const suite = keyringSuite()
    const open = (svc: string) => keyringDriver({ service: svc, lockDir: suite.dir })

    it('stores text values as they are: secret-tool and Python keyring read them unchanged', async () => {
      const svc = suite.service('text')
      const driver = open(svc)
      const value = `tok-${randomUUID()} ünïcödé ✓`
      await driver.set('github/token', bytes(value))
      await driver.set('github/token', bytes(value)) // version 2: still the plain value
      expect((await secretTool('lookup', 'service', svc, 'username', 'github/token')).stdout).toBe(
        value,
      )
      expect(await python('get', svc, 'github/token')).toBe(`VALUE:${value}`)
      expect(await driver.get('github/token')).toMatchObject({ version: 2 })
      // The attributes other clients search by (Python keyring's and secret-tool's names).
      const listed = await secretTool('search', '--all', 'service', svc, 'username', 'github/token')
      expect(listed.stderr).toContain(`attribute.service = ${svc}`)
      expect(listed.stderr).toContain('attribute.username = github/token')
    })

    it('regression: a binary value no longer makes Python keyring raise UnicodeDecodeError (stored as base64 text)', async () => {
      const svc = suite.service('binary')
      const driver = open(svc)
      const value = Uint8Array.from([0xff, 0x00, 0x80, 0xc3, 0x28, 0x41, 0xfe])
      await driver.set('bin', value)
      expect(await python('get', svc, 'bin')).toBe(`VALUE:${Buffer.from(value).toString('base64')}`)
      const stored = await driver.get('bin')
      expect(Array.from(stored!.value)).toEqual(Array.from(value))
      expect(stored!.version).toBe(1)
    })

    it("reads a credential Python keyring stored (kiwi-mcp's layout) through readForeignEntry, and leaves the driver's own reads refusing it", async () => {
      const svc = suite.service('kiwi-mcp')
      const token = `sbp_${randomUUID()}`
      await python('set', svc, 'supabase_access_token', token)
      const found = await readForeignEntry({ service: svc, account: 'supabase_access_token' })
      expect(found).toMatchObject({ service: svc, account: 'supabase_access_token', text: token })
      expect(JSON.stringify(found)).not.toContain(token)
      expect(await readForeignEntry({ service: svc, account: 'absent' })).toBeNull()
      const error = await expectKeywardError(
        open(svc).get('supabase_access_token'),
        KEYWARD_STORE_CORRUPT,
      )
      expect(error.code).toBe('KEYWARD_STORE_CORRUPT')
      expect(error.message).toContain('readForeignEntry')
      expect(error.message).not.toContain(token)
      // Untouched.
      expect(await python('get', svc, 'supabase_access_token')).toBe(`VALUE:${token}`)
    })

    it('reads a value secret-tool wrote over a keyward entry, at the next version', async () => {
      const svc = suite.service('edited')
      const driver = open(svc)
      await driver.set('k', bytes('one'))
      await run('sh', [
        '-c',
        'printf edited | secret-tool store --label=edited service "$0" username k',
        svc,
      ])
      const stored = await driver.get('k')
      expect(text(stored!.value)).toBe('edited')
      expect(stored!.version).toBe(2)
      expect(await driver.set('k', bytes('three'), { ifVersion: 2 })).toEqual({ version: 3 })
      expect(await python('get', svc, 'k')).toBe('VALUE:three')
    })

    it('regression: two items for one key get KEYWARD_KEYRING_AMBIGUOUS with the fix, not "retry", and nothing is lost', async () => {
      const svc = suite.service('ambiguous')
      const driver = open(svc)
      await driver.set('k', bytes('from-keyward'))
      // Python keyring adds its own `application` attribute: a second item, not a replacement.
      await python('set', svc, 'k', 'from-python')
      const errors = await Promise.all(
        (
          [
            driver.get('k'),
            driver.set('k', bytes('x')),
            driver.delete('k'),
            readForeignEntry({ service: svc, account: 'k' }),
          ] as Promise<unknown>[]
        ).map((attempt) => expectKeywardError(attempt, KEYWARD_KEYRING_AMBIGUOUS)),
      )
      for (const error of errors) {
        expect(error.code).toBe('KEYWARD_KEYRING_AMBIGUOUS')
        expect(error.message).toContain(`secret-tool search --all service "${svc}" username "k"`)
        expect(error.message).not.toMatch(/\bretry\b/)
        expect(error.message).not.toContain('from-keyward')
      }
      const listed = await secretTool('search', '--all', 'service', svc, 'username', 'k')
      expect(listed.stdout).toContain('secret = from-keyward')
      expect(listed.stdout).toContain('secret = from-python')
      // Both go (the driver's cleanup cannot delete an ambiguous entry, by design).
      await secretTool('clear', 'service', svc, 'username', 'k')
    })

    it('reads entries of the earlier kw1:<version>: format and rewrites them plainly on the next write', async () => {
      const svc = suite.service('legacy')
      await writeRawEntry(svc, 'k', bytes('kw1:3:abc'))
      const driver = open(svc)
      const stored = await driver.get('k')
      expect(text(stored!.value)).toBe('abc')
      expect(stored!.version).toBe(3)
      expect(await driver.set('k', bytes('def'), { ifVersion: 3 })).toEqual({ version: 4 })
      expect(text((await readRawEntry(svc, 'k'))!)).toBe('def')
      expect(await python('get', svc, 'k')).toBe('VALUE:def')
      expect(await driver.get('k')).toMatchObject({ version: 4 })
    })
  },
)

// Each export format against the real program that reads it: Node's loadEnvFile (a child
// process), bash and dash (`set -a; . file`), python-dotenv and docker compose v1's env_file
// parser (its Python module, which is what `docker-compose` runs; no docker daemon needed).
// Each property run writes one file of many values and starts the reader once.
// In CI a missing reader fails; locally its tests skip with the reason printed.
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { formatEnvironment } from './internal/export.js'
import type { ExportFormat } from './types.js'

const PYTHON = '/usr/bin/python3'
// One Python process for all property runs (importing compose takes a second or more): it reads
// one file path per line and prints what both parsers read from that file, one JSON per line.
const PY_READERS = `
import json, sys
from dotenv import dotenv_values
from compose.config.environment import env_vars_from_file
for line in sys.stdin:
    path = line.rstrip('\\n')
    print(json.dumps({'python-dotenv': dotenv_values(path), 'compose': env_vars_from_file(path)}), flush=True)
`
// Prints the V<n> variables of its environment as JSON.
const PRINT_ENV = `const o = {}; for (const k of Object.keys(process.env)) if (/^V[0-9]+$/.test(k)) o[k] = process.env[k]; process.stdout.write(JSON.stringify(o))`

function available(command: string, args: readonly string[], install: string): boolean {
  const probe = spawnSync(command, args, { encoding: 'utf8', timeout: 30_000 })
  if (probe.status === 0) return true
  const reason = `export reader ${command} ${args.join(' ')} is not available (install: ${install})`
  if (process.env.CI) throw new Error(`${reason}; CI must provide it (.ci/run installs it)`)
  process.stderr.write(`skipping: ${reason}\n`)
  return false
}

const hasBash = available('bash', ['-c', 'true'], 'apt-get install bash')
const hasDash = available('sh', ['-c', 'true'], 'apt-get install dash')
const hasPython = available(
  PYTHON,
  ['-c', 'import dotenv, compose.config.environment'],
  'apt-get install --no-install-recommends python3-dotenv docker-compose',
)

/** Hostile values: quotes, shell syntax, escapes, line breaks, NUL, lone surrogates, Unicode. */
const PIECES = [
  "'",
  '"',
  '`',
  '$',
  '${HOME}',
  '$HOME',
  '$(touch PWNED)',
  '`touch PWNED`',
  ';touch PWNED',
  '|touch PWNED',
  '&touch PWNED&',
  '\\',
  '\\n',
  '\\r',
  "\\'",
  '\\"',
  '\n',
  '\r',
  '\r\n',
  '\t',
  ' ',
  '#',
  ' #',
  '=',
  'a',
  'n',
  'export ',
  'é',
  '😀',
  '\u2028',
  '\u00a0',
  '\0',
  '\uD800',
  '!',
  '*',
  '~',
]
const hostile = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.array(fc.constantFrom(...PIECES), { maxLength: 10 }).map((a) => a.join('')),
  },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 16 }) },
)
const batch = fc.array(hostile, { minLength: 1, maxLength: 40 })
const RUNS = { numRuns: 15 }
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'keyward-readers-'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

/** The values a format accepts, by variable name, and the file text holding them. */
function exportable(values: readonly string[], format: ExportFormat) {
  const env: Record<string, string> = {}
  values.forEach((value, i) => {
    try {
      formatEnvironment({ V0: value }, { collection: 'c', format })
      env[`V${i}`] = value
    } catch (error) {
      expect((error as { code?: string }).code).toBe('KEYWARD_VAULT_UNREPRESENTABLE')
    }
  })
  return { env, text: formatEnvironment(env, { collection: 'c', format }) }
}

async function file(text: string): Promise<string> {
  const path = join(dir, `f-${Math.random().toString(36).slice(2)}.env`)
  await writeFile(path, text)
  return path
}

function run(command: string, args: readonly string[], cwd = dir): string {
  const out = spawnSync(command, args, {
    cwd,
    encoding: 'utf8',
    timeout: 60_000,
    env: { PATH: process.env.PATH, NODE: process.execPath, LC_ALL: 'C.UTF-8' },
  })
  if (out.status !== 0) throw new Error(`${command} failed (${out.status}): ${out.stderr}`)
  return out.stdout
}

/** The long-lived Python reader (PY_READERS); stopped when the file ends. */
let python: ChildProcessWithoutNullStreams | undefined
afterAll(() => {
  python?.kill('SIGKILL')
})

function pythonReaders(): { read(path: string): Promise<string> } {
  const child = spawn(PYTHON, ['-c', PY_READERS], {
    cwd: dir,
    env: { PATH: process.env.PATH, LC_ALL: 'C.UTF-8' },
  })
  python = child
  let out = ''
  let stderr = ''
  const waiting: ((line: string | Error) => void)[] = []
  child.stdout.setEncoding('utf8')
  child.stdout.on('data', (chunk: string) => {
    out += chunk
    for (let end = out.indexOf('\n'); end >= 0; end = out.indexOf('\n')) {
      waiting.shift()?.(out.slice(0, end))
      out = out.slice(end + 1)
    }
  })
  child.stderr.on('data', (chunk) => {
    stderr += chunk
  })
  child.on('exit', (code) => {
    for (const reply of waiting.splice(0)) reply(new Error(`${PYTHON} failed (${code}): ${stderr}`))
  })
  return {
    read: (path) =>
      new Promise((resolve, reject) => {
        waiting.push((line) => (line instanceof Error ? reject(line) : resolve(line)))
        child.stdin.write(`${path}\n`)
      }),
  }
}

describe('dotenv format', () => {
  it('Node’s process.loadEnvFile reads back exactly what was exported (property, real child process)', async () => {
    await fc.assert(
      fc.asyncProperty(batch, async (values) => {
        const { env, text } = exportable(values, 'dotenv')
        const path = await file(text)
        const script = `process.loadEnvFile(process.argv[1]); ${PRINT_ENV}`
        expect(JSON.parse(run(process.execPath, ['-e', script, path]))).toEqual(env)
      }),
      RUNS,
    )
  })

  it.skipIf(!hasBash || !hasDash)(
    'a shell sourcing a dotenv export runs nothing (property; regression: backticks ran `printf X`)',
    async () => {
      const sourced = async (text: string) => {
        const work = await mkdtemp(join(dir, 'src-'))
        const path = join(work, '.env')
        await writeFile(path, text)
        for (const shell of ['bash', 'sh'])
          spawnSync(shell, ['-c', 'set -a; . ./.env'], {
            cwd: work,
            env: { PATH: process.env.PATH },
            timeout: 30_000,
          })
        return existsSync(join(work, 'PWNED')) || existsSync(join(work, 'X'))
      }
      // The value from the report: with backtick quoting, `. .env` ran printf.
      const { text } = exportable(["'';printf X > X", "it's `touch PWNED`"], 'dotenv')
      expect(await sourced(text)).toBe(false)
      await fc.assert(
        fc.asyncProperty(batch, async (values) => {
          expect(await sourced(exportable(values, 'dotenv').text)).toBe(false)
        }),
        RUNS,
      )
    },
  )
})

describe('shell format', () => {
  for (const shell of ['bash', 'sh'] as const)
    it.skipIf(shell === 'bash' ? !hasBash : !hasDash)(
      `${shell} reads back exactly what was exported, and runs nothing (property)`,
      async () => {
        await fc.assert(
          fc.asyncProperty(batch, async (values) => {
            const { env, text } = exportable(values, 'shell')
            // Only NUL and lone surrogates are refused.
            values.forEach((value, i) => {
              const refused = value.includes('\0') || LONE_SURROGATE.test(value)
              expect(`V${i}` in env).toBe(!refused)
            })
            const path = await file(text)
            const out = run(shell, ['-c', `. "$1"; exec "$NODE" -e '${PRINT_ENV}'`, shell, path])
            expect(JSON.parse(out)).toEqual(env)
            expect(existsSync(join(dir, 'PWNED'))).toBe(false)
          }),
          RUNS,
        )
      },
    )
})

describe('compose format', () => {
  it.skipIf(!hasPython)(
    'docker compose v1’s env_file parser and python-dotenv read back exactly what was exported (property)',
    async () => {
      const readers = pythonReaders()
      await fc.assert(
        fc.asyncProperty(batch, async (values) => {
          const { env, text } = exportable(values, 'compose')
          const path = await file(text)
          const read = JSON.parse(await readers.read(path))
          expect(read.compose).toEqual(env)
          expect(read['python-dotenv']).toEqual(env)
        }),
        { numRuns: 10 },
      )
    },
  )
})

describe('json format', () => {
  it('JSON.parse reads back every value, NUL and lone surrogates included (property)', () => {
    fc.assert(
      fc.property(batch, (values) => {
        const env = Object.fromEntries(values.map((v, i) => [`V${i}`, v]))
        expect(JSON.parse(formatEnvironment(env, { collection: 'c', format: 'json' }))).toEqual(env)
      }),
    )
  })
})

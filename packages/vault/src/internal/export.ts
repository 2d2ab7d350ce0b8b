import { assertOptions, KeywardError } from '@keyward/core'
import { KEYWARD_VAULT_UNREPRESENTABLE } from '../errors.js'
import type { ExportFormat, ExportOptions } from '../types.js'
import { argument } from './argument.js'
import { type Quoted, quoteCompose, quoteDotenv, quoteShell } from './formats.js'

const FORMATS: readonly ExportFormat[] = ['dotenv', 'shell', 'compose', 'json', 'env']

/** Validates export options before anything is resolved. */
export function checkExportOptions(options: ExportOptions): void {
  assertOptions(options, 'export')
  if (!FORMATS.includes(options.format))
    throw argument("option `format` must be 'dotenv', 'shell', 'compose' or 'json'")
  const prefix = options.publicPrefix
  if (
    prefix !== undefined &&
    (typeof prefix !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(prefix))
  )
    throw argument('option `publicPrefix` must be the start of a variable name, such as VITE_')
  if (
    options.file !== undefined &&
    (typeof options.file !== 'string' || options.file === '' || options.file.includes('\0'))
  )
    throw argument('option `file` must be a file path')
}

const QUOTE: Record<Exclude<ExportFormat, 'json'>, (value: string) => Quoted> = {
  dotenv: quoteDotenv,
  env: quoteDotenv,
  shell: quoteShell,
  compose: quoteCompose,
}

const INSTEAD: Record<Exclude<ExportFormat, 'json'>, string> = {
  dotenv: "use format 'shell' or 'json'",
  env: "use format 'shell' or 'json'",
  shell: "use format 'json'",
  compose: "use format 'json' (or set it in the compose file's `environment`)",
}

/** The text of an export of `env` (already resolved), names sorted. */
export function formatEnvironment(
  env: Readonly<Record<string, string>>,
  options: ExportOptions,
): string {
  const prefix = options.publicPrefix
  const names = Object.keys(env)
    .filter((name) => prefix === undefined || name.startsWith(prefix))
    .sort()
  if (options.format === 'json') {
    const out: Record<string, string> = {}
    for (const name of names) out[name] = env[name]!
    return `${JSON.stringify(out, null, 2)}\n`
  }
  const format = options.format
  const lines: string[] = []
  for (const name of names) {
    const quoted = QUOTE[format](env[name]!)
    if ('refused' in quoted) {
      const where = `${options.collection}/${options.environment ?? '(untagged)'}`
      throw new KeywardError(
        KEYWARD_VAULT_UNREPRESENTABLE,
        `the value of ${name} (in ${where}) cannot be written in format '${format}' so that its reader gets it back exactly: ${quoted.refused}; ${INSTEAD[format]}. Nothing was written`,
        {
          details: {
            collection: options.collection,
            environment: options.environment ?? null,
            name,
            format,
          },
        },
      )
    }
    lines.push(`${format === 'shell' ? 'export ' : ''}${name}=${quoted.text}`)
  }
  return lines.length ? `${lines.join('\n')}\n` : ''
}

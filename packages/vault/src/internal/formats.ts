// Quoting of one value for each export format's reader. Each function returns the text to
// write after `NAME=`, or a reason (a phrase, never the value) why its reader cannot get the
// value back exactly. Every rule here is checked against the real reader by a property test
// (export.test.ts, readers.test.ts).

/** A quoted value, or why the format cannot hold it. */
export type Quoted = { readonly text: string } | { readonly refused: string }

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

function common(value: string): string | undefined {
  if (value.includes('\0')) return 'it contains a NUL character'
  if (LONE_SURROGATE.test(value)) return 'it is not well-formed Unicode (a lone surrogate)'
  return undefined
}

/**
 * For Node's `util.parseEnv` / `process.loadEnvFile` and the `dotenv` package (both of its
 * parsers). Single quotes (read literally) when the value has no `'`, double quotes otherwise
 * (and for multi-line values, with each newline written as `\n`). Never backticks, and double
 * quotes only around values without `$`, `` ` `` or `"`, so that a shell sourcing the file by
 * mistake runs nothing. Refused: CR (readers normalise line ends), a value ending in `\`
 * (readers may take `\'` / `\"` as an escaped quote), a literal `\n` or `\r` inside double
 * quotes (readers turn it into a line break), NUL, lone surrogates, and values that need both
 * quote styles.
 */
export function quoteDotenv(value: string): Quoted {
  const bad = common(value)
  if (bad) return { refused: bad }
  if (value.includes('\r')) return { refused: 'it contains a carriage return' }
  if (value.endsWith('\\')) return { refused: 'it ends with a backslash' }
  const doubleOk = !/["$`]|\\[nr]/.test(value)
  if (!value.includes('\n')) {
    if (!value.includes("'")) return { text: `'${value}'` }
    if (doubleOk) return { text: `"${value}"` }
  } else {
    if (doubleOk) return { text: `"${value.replace(/\n/g, '\\n')}"` }
    if (!value.includes("'")) return { text: `'${value}'` }
  }
  return {
    refused:
      'it needs a single quote and one of " $ ` \\n (no dotenv quoting holds both without a shell running it)',
  }
}

/** The former `_quoteDotenv` shape: the quoted text or `null`. Kept for its tests. */
export function quoteDotenvOrNull(value: string): string | null {
  const quoted = quoteDotenv(value)
  return 'text' in quoted ? quoted.text : null
}

/** For `. file` in sh/bash: POSIX single quotes, each `'` written as `'\''`. Exact for every value without NUL. */
export function quoteShell(value: string): Quoted {
  const bad = common(value)
  if (bad) return { refused: bad }
  return { text: `'${value.replace(/'/g, "'\\''")}'` }
}

/**
 * For docker compose v1's `env_file` parser (python-dotenv, with `${NAME}` interpolation in
 * every quoting). Single quotes (literal) when the value has no `'`, `\` or CR; else double
 * quotes with `\\`, `\"`, `\n`, `\r` escapes. Refused: `${` (compose interpolates it, and
 * there is no escape), a value ending in `\` (read as an escaped closing quote), NUL, lone
 * surrogates.
 */
export function quoteCompose(value: string): Quoted {
  const bad = common(value)
  if (bad) return { refused: bad }
  if (value.includes('${'))
    return { refused: 'it contains ${, which compose interpolates (there is no escape for it)' }
  if (value.endsWith('\\')) return { refused: 'it ends with a backslash' }
  if (!/['\\\r]/.test(value)) return { text: `'${value}'` }
  const escaped = value
    .replace(/\\/g, '\\\\')
    .replace(/"/g, '\\"')
    .replace(/\n/g, '\\n')
    .replace(/\r/g, '\\r')
  return { text: `"${escaped}"` }
}

/**
 * Quotes `value` for a dotenv line so that the `dotenv` package and Node's `util.parseEnv`
 * / `process.loadEnvFile` read back exactly `value`; `null` when no quoting can (a value with
 * a carriage return, or one that needs every quote style at once).
 *
 * - one line without `'`: single quotes (read literally);
 * - one line with `'`: backticks (read literally);
 * - several lines: double quotes with each newline escaped as `\n`, unless the value holds a
 *   `"` or a literal backslash-n (which a reader would turn into a newline): then backticks
 *   around the literal lines.
 *
 * @internal
 */
export function _quoteDotenv(value: string): string | null {
  if (value.includes('\r')) return null
  if (!value.includes('\n')) {
    if (!value.includes("'")) return `'${value}'`
    if (!value.includes('`')) return `\`${value}\``
    if (!value.includes('"') && !value.includes('\\n')) return `"${value}"`
    return null
  }
  if (!value.includes('"') && !value.includes('\\n') && !/\n\s*$|^\s*\n/.test(value))
    return `"${value.replace(/\n/g, '\\n')}"`
  if (!value.includes('`') && !/^\s|\s$/.test(value)) return `\`${value}\``
  if (!value.includes('"') && !value.includes('\\n')) return `"${value.replace(/\n/g, '\\n')}"`
  return null
}

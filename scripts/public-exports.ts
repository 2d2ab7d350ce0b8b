// What each published entry point exports, read from the built declaration files with the
// TypeScript compiler API (as an editor would). Used by the repo tests (TSDoc on every export,
// every export listed in its package README) and by `npm run docs:exports`, which rewrites the
// README lists after a deliberate API change.
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import ts from 'typescript'

export const repoRoot = join(import.meta.dirname, '..')
const packagesDir = join(repoRoot, 'packages')

/** One published entry point: its import specifier and built declaration file. */
export interface EntryPoint {
  readonly packageDir: string
  readonly specifier: string
  readonly file: string
}

/** Every entry point of every package, from each package.json's `exports` (types condition). */
export function entryPoints(): EntryPoint[] {
  const out: EntryPoint[] = []
  for (const dir of readdirSync(packagesDir).sort()) {
    const manifest = JSON.parse(readFileSync(join(packagesDir, dir, 'package.json'), 'utf8'))
    for (const [subpath, conditions] of Object.entries<Record<string, string> | string>(
      manifest.exports ?? {},
    )) {
      if (typeof conditions !== 'object' || !conditions.types) continue
      out.push({
        packageDir: join(packagesDir, dir),
        specifier: subpath === '.' ? manifest.name : `${manifest.name}/${subpath.slice(2)}`,
        file: join(packagesDir, dir, conditions.types),
      })
    }
  }
  return out
}

/**
 * A program over the built declarations of `entries`, with helpers to read their exports.
 * `options` adds compiler options (e.g. `exactOptionalPropertyTypes`, as a host would compile).
 */
export function declarationProgram(
  entries: readonly Pick<EntryPoint, 'file'>[],
  options: ts.CompilerOptions = {},
) {
  const program = ts.createProgram(
    entries.map((e) => e.file),
    {
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      noEmit: true,
      skipLibCheck: true,
      ...options,
    },
  )
  const checker = program.getTypeChecker()
  const exportsOf = (file: string): ts.Symbol[] => {
    const source = program.getSourceFile(file)
    if (!source) throw new Error(`${file} is missing: build first`)
    const moduleSymbol = checker.getSymbolAtLocation(source)
    return moduleSymbol ? checker.getExportsOfModule(moduleSymbol) : []
  }
  return { checker, exportsOf }
}

/** Export names of every entry point, sorted, keyed by specifier. */
export function exportNames(entries = entryPoints()): Map<string, string[]> {
  const { exportsOf } = declarationProgram(entries)
  return new Map(
    entries.map((e) => [
      e.specifier,
      exportsOf(e.file)
        .map((s) => s.getName())
        .sort(),
    ]),
  )
}

const START =
  '<!-- exports:start (npm run docs:exports; a repo test compares it with the build) -->'
const END = '<!-- exports:end -->'

/** The README section listing every export of the package's entry points. */
export function exportsSection(names: ReadonlyMap<string, readonly string[]>): string {
  const rows = [...names].map(
    ([specifier, list]) => `| \`${specifier}\` | ${list.map((n) => `\`${n}\``).join(', ')} |`,
  )
  return [START, '', '| entry point | exports |', '|---|---|', ...rows, '', END].join('\n')
}

/** The export lists a README states, keyed by specifier (empty when it has no such section). */
export function readmeExports(readme: string): Map<string, string[]> {
  const start = readme.indexOf(START)
  const end = readme.indexOf(END)
  const out = new Map<string, string[]>()
  if (start < 0 || end < start) return out
  for (const line of readme.slice(start, end).split('\n')) {
    const row = /^\| `([^`]+)` \| (.*) \|$/.exec(line)
    if (!row?.[1] || row[2] === undefined) continue
    out.set(row[1], [...row[2].matchAll(/`([^`]+)`/g)].map((m) => m[1] ?? '').sort())
  }
  return out
}

/** `readme` with its exports section replaced (or appended). */
export function withExportsSection(readme: string, section: string): string {
  const start = readme.indexOf(START)
  const end = readme.indexOf(END)
  if (start >= 0 && end > start)
    return readme.slice(0, start) + section + readme.slice(end + END.length)
  return `${readme.trimEnd()}\n\n## Exports\n\n${section}\n`
}

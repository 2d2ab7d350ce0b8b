// Every export of every published entry point carries TSDoc (STYLE.md: TSDoc on every export).
// Reads the built declaration files with the TypeScript compiler API, as an editor would.
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import ts from 'typescript'
import { describe, expect, it } from 'vitest'

const root = join(import.meta.dirname, '..')
const packagesDir = join(root, 'packages')

function declarationEntries(): { specifier: string; file: string }[] {
  const out: { specifier: string; file: string }[] = []
  for (const dir of readdirSync(packagesDir)) {
    const manifest = JSON.parse(readFileSync(join(packagesDir, dir, 'package.json'), 'utf8'))
    for (const [subpath, conditions] of Object.entries<Record<string, string> | string>(
      manifest.exports ?? {},
    )) {
      if (typeof conditions !== 'object' || !conditions.types) continue
      out.push({
        specifier: subpath === '.' ? manifest.name : `${manifest.name}/${subpath.slice(2)}`,
        file: join(packagesDir, dir, conditions.types),
      })
    }
  }
  return out
}

const entries = declarationEntries()
const program = ts.createProgram(
  entries.map((e) => e.file),
  {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    noEmit: true,
    skipLibCheck: true,
  },
)
const checker = program.getTypeChecker()

function undocumented(file: string): string[] {
  const source = program.getSourceFile(file)
  if (!source) throw new Error(`${file} is missing: build first`)
  const moduleSymbol = checker.getSymbolAtLocation(source)
  if (!moduleSymbol) return []
  const missing: string[] = []
  for (const exported of checker.getExportsOfModule(moduleSymbol)) {
    const symbol =
      exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported
    const documented =
      symbol.getDocumentationComment(checker).length > 0 ||
      (symbol.declarations ?? []).some((d) => ts.getJSDocCommentsAndTags(d).length > 0)
    if (!documented) missing.push(exported.getName())
  }
  return missing
}

describe('TSDoc', () => {
  it.each(entries.map((e) => [e.specifier, e.file] as const))(
    'every export of %s is documented',
    (_specifier, file) => {
      expect(undocumented(file)).toEqual([])
    },
  )
})

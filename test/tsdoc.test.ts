// Every export of every published entry point carries TSDoc (STYLE.md: TSDoc on every export).
// Reads the built declaration files with the TypeScript compiler API, as an editor would.
import ts from 'typescript'
import { describe, expect, it } from 'vitest'
import { declarationProgram, entryPoints } from '../scripts/public-exports.js'

const entries = entryPoints()
const { checker, exportsOf } = declarationProgram(entries)

function undocumented(file: string): string[] {
  const missing: string[] = []
  for (const exported of exportsOf(file)) {
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

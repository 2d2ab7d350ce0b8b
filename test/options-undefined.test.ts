// Options accept `undefined` for every optional field (STYLE.md), so a host compiling with
// `exactOptionalPropertyTypes` can pass what it has (`logger: quiet ? undefined : console`).
// Reads the built declarations of each checked package, as such a host's compiler would: every
// optional property of every exported `…Options` type must include `undefined`.
import { basename } from 'node:path'
import ts from 'typescript'
import { describe, expect, it } from 'vitest'
import { declarationProgram, entryPoints } from '../scripts/public-exports.js'

/** The packages held to it (by folder name). */
const CHECKED = ['core', 'authstore', 'oauth', 'templating', 'sandbox', 'vault', 'mcp']

const all = entryPoints().filter((e) => CHECKED.includes(basename(e.packageDir)))
const { checker, exportsOf } = declarationProgram(all, {
  strict: true,
  exactOptionalPropertyTypes: true,
})

/** `Type.option` for each optional option property whose type leaves out `undefined`. */
function strictOptionals(file: string): string[] {
  const out: string[] = []
  for (const exported of exportsOf(file)) {
    if (!exported.getName().endsWith('Options')) continue
    const symbol =
      exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported
    if (!(symbol.flags & (ts.SymbolFlags.Interface | ts.SymbolFlags.TypeAlias))) continue
    const type = checker.getDeclaredTypeOfSymbol(symbol)
    for (const property of checker.getPropertiesOfType(type)) {
      if (!(property.flags & ts.SymbolFlags.Optional)) continue
      const declaration = property.valueDeclaration ?? property.declarations?.[0]
      if (!declaration || !ts.isPropertySignature(declaration) || !declaration.type) continue
      const declared = checker.getTypeFromTypeNode(declaration.type)
      const parts = declared.isUnion() ? declared.types : [declared]
      const acceptsUndefined = parts.some(
        (t) => t.flags & (ts.TypeFlags.Undefined | ts.TypeFlags.Any | ts.TypeFlags.Unknown),
      )
      if (!acceptsUndefined) out.push(`${exported.getName()}.${property.getName()}`)
    }
  }
  return out
}

describe('option types accept undefined (exactOptionalPropertyTypes)', () => {
  it.each(all.map((e) => [e.specifier, e.file] as const))('%s', (_specifier, file) => {
    expect(strictOptionals(file)).toEqual([])
  })
})

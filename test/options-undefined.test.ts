// Options accept `undefined` for every optional field (STYLE.md), so a host compiling with
// `exactOptionalPropertyTypes` can pass what it has (`logger: quiet ? undefined : console`).
// Reads the built declarations of each checked package, as such a host's compiler would: every
// optional property of every exported `…Options` type must include `undefined`.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import ts from 'typescript'
import { describe, expect, it } from 'vitest'

const root = join(import.meta.dirname, '..')
/** The packages held to it so far (vault joins once its option types accept undefined). */
const CHECKED = ['core', 'authstore', 'oauth', 'templating', 'sandbox', 'vault', 'mcp']

function entries(dir: string): { specifier: string; file: string }[] {
  const manifest = JSON.parse(readFileSync(join(root, 'packages', dir, 'package.json'), 'utf8'))
  return Object.entries<Record<string, string> | string>(manifest.exports ?? {})
    .filter(([, c]) => typeof c === 'object' && c.types)
    .map(([subpath, c]) => ({
      specifier: subpath === '.' ? manifest.name : `${manifest.name}/${subpath.slice(2)}`,
      file: join(root, 'packages', dir, (c as Record<string, string>).types!),
    }))
}

const all = CHECKED.flatMap(entries)
const program = ts.createProgram(
  all.map((e) => e.file),
  {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    strict: true,
    exactOptionalPropertyTypes: true,
    noEmit: true,
    skipLibCheck: true,
  },
)
const checker = program.getTypeChecker()

/** `Type.option` for each optional option property whose type leaves out `undefined`. */
function strictOptionals(file: string): string[] {
  const source = program.getSourceFile(file)
  if (!source) throw new Error(`${file} is missing: build first`)
  const moduleSymbol = checker.getSymbolAtLocation(source)
  if (!moduleSymbol) return []
  const out: string[] = []
  for (const exported of checker.getExportsOfModule(moduleSymbol)) {
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

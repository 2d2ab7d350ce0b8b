// One error catalogue (STYLE.md "Errors"): every code is a constant written once, in its
// package's constants module (packages/*/src/codes.ts); nothing else in published source spells
// a code as a string; docs/errors.md is generated from the constants; every error subclass has
// its own marker, so its isInstance never accepts the base class or a sibling.
//
// Scope of the literal scan: every .ts file under packages/*/src except tests (*.test.ts,
// *.test-d.ts) and `_`-prefixed test helpers. Tests may spell a code: asserting the wire value
// of a code is what keeps it stable.
import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import ts from 'typescript'
import { describe, expect, it } from 'vitest'
import { DOC, packagesWithCodes, readCodes, renderErrorsDoc, root } from '../scripts/errors-doc.js'

/** Strings shaped like codes that are not error codes. */
const NOT_CODES = new Map([['KEYWARD_KEY', 'the environment variable defaultKey/envKey read']])
// A code never ends with `_`: `'KEYWARD_SSRF_'` is a family prefix (`code.startsWith(…)`), not a code.
const CODE_SHAPE = /^KEYWARD_[A-Z0-9_]*[A-Z0-9]$/

function sourceFiles(dir: string): string[] {
  const out: string[] = []
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) out.push(...sourceFiles(path))
    else if (
      /\.(ts|mts)$/.test(entry.name) &&
      !/\.test(-d)?\.ts$/.test(entry.name) &&
      !entry.name.endsWith('.d.ts') &&
      !entry.name.startsWith('_')
    )
      out.push(path)
  }
  return out
}

/** Every string literal (and template without substitutions) in `file` shaped like a code. */
function codeLiterals(file: string, text = readFileSync(file, 'utf8')): string[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true)
  const found: string[] = []
  const visit = (node: ts.Node): void => {
    if (
      (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) &&
      CODE_SHAPE.test(node.text) &&
      !NOT_CODES.has(node.text)
    ) {
      const { line } = source.getLineAndCharacterOfPosition(node.getStart(source))
      found.push(`${relative(root, file)}:${line + 1} ${node.text}`)
    }
    ts.forEachChild(node, visit)
  }
  visit(source)
  return found
}

const packages = packagesWithCodes()

describe('the error catalogue', () => {
  it('finds the constants modules of the packages', () => {
    expect(packages.map((p) => p.dir)).toContain('core')
    expect(packages.length).toBeGreaterThanOrEqual(5)
  })

  it('spells no code as a string literal outside the constants modules (packages/*/src/codes.ts)', () => {
    const offenders: string[] = []
    for (const dir of readdirSync(join(root, 'packages'))) {
      const src = join(root, 'packages', dir, 'src')
      for (const file of sourceFiles(src).filter((f) => !f.endsWith(`${join('src', 'codes.ts')}`)))
        offenders.push(...codeLiterals(file))
    }
    // Import the constant from the package's codes module (or @keyward/core) instead.
    expect(offenders).toEqual([])
  })

  it('the literal scan sees strings and plain templates, not comments or env var names', () => {
    const sample = [
      "throw new KeywardError('KEYWARD_X_ONE', 'm')",
      'const b = `KEYWARD_X_TWO`',
      "// 'KEYWARD_X_COMMENT' in a comment",
      "const env = process.env['KEYWARD_KEY']",
      "if (code.startsWith('KEYWARD_SSRF_')) {}",
    ].join('\n')
    expect(codeLiterals(join(root, 'sample.ts'), sample).map((l) => l.split(' ')[1])).toEqual([
      'KEYWARD_X_ONE',
      'KEYWARD_X_TWO',
    ])
  })

  it('each constant is a documented string literal equal to its name, and each code has one owner', () => {
    const owners = new Map<string, string>()
    const problems: string[] = []
    for (const pkg of packages) {
      const where = relative(root, pkg.codesFile)
      for (const code of readCodes(pkg.codesFile)) {
        if (!code.literal || code.value !== code.name)
          problems.push(`${where}:${code.line} ${code.name} must be = '${code.name}'`)
        if (!code.doc) problems.push(`${where}:${code.line} ${code.name} has no TSDoc`)
        const owner = owners.get(code.name)
        if (owner) problems.push(`${code.name} is defined by both ${owner} and ${pkg.name}`)
        owners.set(code.name, pkg.name)
      }
    }
    expect(problems).toEqual([])
  })

  it('docs/errors.md lists every code as the constants say (run `npm run docs:errors`)', () => {
    expect(readFileSync(DOC, 'utf8')).toBe(renderErrorsDoc())
  })
})

describe('error subclasses (built packages)', () => {
  it('each has its own Symbol.for marker and never accepts the base class or a sibling', async () => {
    const { KeywardError } = await import('@keyward/core')
    const classes: {
      pkg: string
      name: string
      cls: { marker: symbol; isInstance(v: unknown): boolean }
    }[] = []
    for (const pkg of packages) {
      const module: Record<string, unknown> = await import(pkg.name)
      for (const [name, value] of Object.entries(module)) {
        if (
          typeof value === 'function' &&
          value !== KeywardError &&
          value.prototype instanceof KeywardError
        )
          classes.push({ pkg: pkg.name, name, cls: value as never })
      }
    }
    // RefreshError (core, re-exported by authstore) and AuthenticationRequiredError at least.
    const names = new Set(classes.map((c) => c.name))
    expect(names).toContain('RefreshError')
    expect(names).toContain('AuthenticationRequiredError')
    const base = new KeywardError('KEYWARD_INVALID_ARGUMENT', 'x')
    const markers = new Map<symbol, string>()
    for (const { pkg, name, cls } of classes) {
      expect(Object.hasOwn(cls, 'marker'), `${pkg} ${name} declares no marker`).toBe(true)
      expect(Symbol.keyFor(cls.marker), `${pkg} ${name}`).toBe(`keyward.error.${name}`)
      const other = markers.get(cls.marker)
      if (other !== undefined) expect(other, `${name}: same class re-exported`).toBe(name)
      markers.set(cls.marker, name)
      // Regression: AuthenticationRequiredError.isInstance(new KeywardError(…)) was true.
      expect(cls.isInstance(base), `${pkg} ${name}.isInstance(base)`).toBe(false)
      for (const { name: siblingName, cls: sibling } of classes) {
        if (siblingName === name) continue
        const instance = Object.create((sibling as unknown as { prototype: object }).prototype)
        Object.defineProperty(instance, sibling.marker, { value: true })
        expect(cls.isInstance(instance), `${name}.isInstance(a ${siblingName})`).toBe(false)
      }
    }
  })
})

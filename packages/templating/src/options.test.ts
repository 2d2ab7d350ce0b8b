// Hosts compiling with `exactOptionalPropertyTypes` pass `undefined` for any option they do not
// have (`logger: cond ? console : undefined`): compiled here with that flag, by TypeScript.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import ts from 'typescript'
import { expect, it } from 'vitest'

it('every option accepts undefined under exactOptionalPropertyTypes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'keyward-templating-options-'))
  try {
    const entry = join(import.meta.dirname, 'index.ts')
    const file = join(dir, 'host.mts')
    writeFileSync(
      file,
      `import { createRedactor, lintTemplate, parseReferences, substitute, type Resolver } from ${JSON.stringify(entry)}
declare const resolver: Resolver
declare const cond: boolean
function u<T>(value: T): T | undefined {
  return cond ? value : undefined
}
parseReferences('x', { namespaces: u(['secret']) })
lintTemplate('x', u({ namespaces: u(['secret']) }))
const redactor = createRedactor([], { minLength: u(8), encoders: u(['json']), denylist: u([]), logger: u(console) })
await substitute('x', resolver, {
  namespaces: u(['secret']),
  encoding: u('json'),
  maxDepth: u(4),
  redactor: u(redactor),
  allowUnmasked: u(['\${secret.pin}']),
})
await substitute('x', resolver, u({}))
export {}
`,
    )
    const program = ts.createProgram([file], {
      target: ts.ScriptTarget.ES2022,
      lib: ['lib.es2023.d.ts'],
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      strict: true,
      exactOptionalPropertyTypes: true,
      allowImportingTsExtensions: true,
      noEmit: true,
      skipLibCheck: true,
      types: ['node'],
      typeRoots: [join(import.meta.dirname, '../../../node_modules/@types')],
    })
    const messages = ts
      .getPreEmitDiagnostics(program)
      .filter((d) => d.file?.fileName === file || d.file === undefined)
      .map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'))
    expect(messages).toEqual([])
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

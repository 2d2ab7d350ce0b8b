#!/usr/bin/env node
// npm run docs:check: every ```ts block in README.md, docs/**/*.md and packages/*/README.md compiles against the
// built packages, as a user would write it. Each block becomes its own module in a scratch
// directory inside the repo (so `@keyward/*` resolves through node_modules to dist), and one
// `tsc --noEmit` checks them all. A block fenced as ```ts nocheck is skipped (say why beside it).
import { execFileSync } from 'node:child_process'
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'

const root = new URL('..', import.meta.url).pathname
const scratch = join(root, '.docs-check')

function markdownFiles(dir) {
  const out = []
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) {
      if (name !== 'api') out.push(...markdownFiles(path))
    } else if (name.endsWith('.md')) out.push(path)
  }
  return out
}

const packageReadmes = readdirSync(join(root, 'packages')).map((p) =>
  join(root, 'packages', p, 'README.md'),
)
const files = [
  join(root, 'README.md'),
  ...markdownFiles(join(root, 'docs')),
  ...packageReadmes.filter((f) => statSync(f, { throwIfNoEntry: false })),
]
rmSync(scratch, { recursive: true, force: true })
mkdirSync(scratch)
const origins = new Map()
let count = 0
for (const file of files) {
  const text = readFileSync(file, 'utf8')
  const fence = /^```(ts|typescript)([^\n]*)\n([\s\S]*?)^```/gm
  for (const match of text.matchAll(fence)) {
    if (match[2].includes('nocheck')) continue
    const line = text.slice(0, match.index).split('\n').length
    const name = `block${String(++count).padStart(3, '0')}.ts`
    // Each block is a module; top-level await is allowed in docs.
    writeFileSync(join(scratch, name), `${match[3]}\nexport {}\n`)
    origins.set(name, `${relative(root, file)}:${line}`)
  }
}
writeFileSync(
  join(scratch, 'tsconfig.json'),
  JSON.stringify({
    extends: '../tsconfig.base.json',
    compilerOptions: {
      noEmit: true,
      noUnusedLocals: false,
      target: 'ES2022',
      module: 'NodeNext',
      // Hosts that compile with exactOptionalPropertyTypes must be able to use every snippet.
      exactOptionalPropertyTypes: true,
    },
    include: ['*.ts'],
  }),
)
try {
  execFileSync(join(root, 'node_modules/.bin/tsc'), ['-p', scratch], {
    cwd: root,
    encoding: 'utf8',
    stdio: 'pipe',
  })
  console.log(`docs: ${count} TypeScript snippets compile`)
  rmSync(scratch, { recursive: true, force: true })
} catch (error) {
  const output = String(error.stdout ?? error)
  console.error(
    output.replace(/\.docs-check\/(block\d+\.ts)/g, (_, name) => `${origins.get(name)} (${name})`),
  )
  console.error(`docs: snippets failed to compile (scratch files kept in .docs-check/)`)
  process.exit(1)
}

// npm run docs:exports: rewrites the "Exports" section of every package README from the built
// declarations. Run it after a deliberate API change (build first) and review the diff: the
// repo test fails while a README and the build disagree.
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { entryPoints, exportNames, exportsSection, withExportsSection } from './public-exports.js'

const entries = entryPoints()
const names = exportNames(entries)
for (const dir of new Set(entries.map((e) => e.packageDir))) {
  const own = new Map(
    [...names].filter(([s]) => entries.find((e) => e.specifier === s)?.packageDir === dir),
  )
  const path = join(dir, 'README.md')
  const before = readFileSync(path, 'utf8')
  const after = withExportsSection(before, exportsSection(own))
  if (after !== before) {
    writeFileSync(path, after)
    console.log(`updated ${path}`)
  }
}

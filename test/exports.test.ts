// Nothing reaches a published entry point by accident: every export of every entry point is
// listed in its package README (the allow-list, rewritten deliberately by `npm run
// docs:exports`), and no name that marks an internal (`_x`) is exported.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { entryPoints, exportNames, readmeExports } from '../scripts/public-exports.js'

const entries = entryPoints()
const names = exportNames(entries)

describe('published exports', () => {
  it.each(entries.map((e) => [e.specifier, e.packageDir] as const))(
    'every export of %s is in its README allow-list, and nothing else is',
    (specifier, dir) => {
      const listed = readmeExports(readFileSync(join(dir, 'README.md'), 'utf8'))
      expect(names.get(specifier)).toEqual(listed.get(specifier) ?? [])
    },
  )

  it.each(entries.map((e) => [e.specifier] as const))(
    '%s exports no _internal name',
    (specifier) => {
      expect(names.get(specifier)?.filter((n) => n.startsWith('_'))).toEqual([])
    },
  )
})

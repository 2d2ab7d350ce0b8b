// Every pending changeset parses the way `changeset version` will read it, names a package of
// this workspace with a valid bump, and says something. (A formatter once turned a changeset's
// frontmatter into a heading; changesets then refused every file.)
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import parse from '@changesets/parse'
import { describe, expect, it } from 'vitest'

const root = join(import.meta.dirname, '..')
const dir = join(root, '.changeset')
const files = readdirSync(dir).filter((f) => f.endsWith('.md') && f !== 'README.md')
const workspacePackages = new Set(
  readdirSync(join(root, 'packages')).map(
    (p) =>
      JSON.parse(readFileSync(join(root, 'packages', p, 'package.json'), 'utf8')).name as string,
  ),
)

describe('changesets', () => {
  it.each(files)('%s parses and names workspace packages', (file) => {
    const changeset = parse(readFileSync(join(dir, file), 'utf8'))
    expect(changeset.releases.length).toBeGreaterThan(0)
    for (const release of changeset.releases) {
      expect(workspacePackages).toContain(release.name)
      expect(['major', 'minor', 'patch']).toContain(release.type)
    }
    expect(changeset.summary.trim().length).toBeGreaterThan(20)
  })
})

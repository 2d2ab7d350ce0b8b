// Every published entry point of every package must load with require() (Node >= 20.19 loads
// synchronous ESM through require) and with import, from the built dist, in a fresh process.
import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

const root = join(import.meta.dirname, '..')
const packagesDir = join(root, 'packages')

function entryPoints(): string[] {
  const specifiers: string[] = []
  for (const dir of readdirSync(packagesDir)) {
    const manifest = JSON.parse(readFileSync(join(packagesDir, dir, 'package.json'), 'utf8'))
    if (manifest.private) continue
    for (const subpath of Object.keys(manifest.exports ?? {})) {
      if (subpath === './package.json') continue
      specifiers.push(subpath === '.' ? manifest.name : `${manifest.name}/${subpath.slice(2)}`)
    }
  }
  return specifiers
}

const specifiers = entryPoints()

describe('published entry points', () => {
  it('exist', () => {
    expect(specifiers).toContain('@keyward/core')
    expect(specifiers).toContain('@keyward/core/drivers/file')
  })

  it.each(specifiers)('%s loads with require() and import', (specifier) => {
    const script = `
      const viaRequire = require(${JSON.stringify(specifier)});
      import(${JSON.stringify(specifier)}).then((viaImport) => {
        const names = Object.keys(viaRequire).sort();
        if (names.length === 0) throw new Error('no exports');
        if (JSON.stringify(names) !== JSON.stringify(Object.keys(viaImport).sort())) throw new Error('require and import differ');
        process.stdout.write(names.join(','));
      });`
    const out = execFileSync(process.execPath, ['-e', script], { cwd: root, encoding: 'utf8' })
    expect(out.length).toBeGreaterThan(0)
  })

  it('the core root entry does not load the native keyring binding', () => {
    const script = `
      require('@keyward/core');
      require('@keyward/core/drivers/file');
      const loaded = Object.keys(require.cache).filter((p) => p.includes('@napi-rs'));
      process.stdout.write(String(loaded.length));`
    expect(execFileSync(process.execPath, ['-e', script], { cwd: root, encoding: 'utf8' })).toBe(
      '0',
    )
  })
})

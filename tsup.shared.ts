import { writeFileSync } from 'node:fs'
import { defineConfig, type Options } from 'tsup'
import { BUILD_SOURCES_FILE, sourceHashes } from './scripts/source-hashes.js'

/**
 * The build every keyward package shares: ESM for Node 20, declarations (TypeScript 6 needs
 * `ignoreDeprecations` in tsup's d.ts step), source maps, siblings and optional peers external.
 * A package passes its entry points and anything it adds. After each build it records the
 * hashes of the sources it read (see scripts/source-hashes.ts).
 */
export function packageConfig(entry: Record<string, string>, extra: Options = {}) {
  return defineConfig({
    entry,
    format: ['esm'],
    target: 'node20',
    platform: 'node',
    dts: { compilerOptions: { ignoreDeprecations: '6.0' } },
    sourcemap: true,
    clean: true,
    treeshake: true,
    async onSuccess() {
      writeFileSync(BUILD_SOURCES_FILE, `${JSON.stringify(sourceHashes('.'), null, 2)}\n`)
    },
    ...extra,
    external: [/^@keyward\//, ...(extra.external ?? [])],
  })
}

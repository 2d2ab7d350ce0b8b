import { defineConfig, type Options } from 'tsup'

/**
 * The build every keyward package shares: ESM for Node 20, declarations (TypeScript 6 needs
 * `ignoreDeprecations` in tsup's d.ts step), source maps, siblings and optional peers external.
 * A package passes its entry points and anything it adds.
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
    ...extra,
    external: [/^@keyward\//, ...(extra.external ?? [])],
  })
}

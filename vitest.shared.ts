import { fileURLToPath } from 'node:url'

const packagesDir = fileURLToPath(new URL('./packages/', import.meta.url))

/**
 * Resolves `@keyward/<pkg>` and `@keyward/<pkg>/<subpath>` to the sibling's TypeScript
 * source, so a package's tests run against its siblings' current code without a build.
 * Child processes spawned by tests use the built `dist` instead (see scripts/test.mjs).
 */
export const keywardAliases = [
  { find: /^@keyward\/([a-z-]+)$/, replacement: `${packagesDir}$1/src/index.ts` },
  { find: /^@keyward\/([a-z-]+)\/(.+)$/, replacement: `${packagesDir}$1/src/$2.ts` },
]

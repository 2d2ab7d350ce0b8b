import { fileURLToPath } from 'node:url'

const packagesDir = fileURLToPath(new URL('./packages/', import.meta.url))

/**
 * Run by every project before each test file: kills what a test file left running when it ends
 * (test/_teardown.ts).
 */
export const teardownSetupFile = fileURLToPath(new URL('./test/_teardown.ts', import.meta.url))

/**
 * Whether the type tests (`*.test-d.ts`, checked by tsc) run. They do not depend on the Node
 * version that runs the suite, so CI runs them once, on its first Node version, and sets
 * `KEYWARD_SKIP_TYPE_TESTS=1` for the others (`npm run typecheck` checks the same files too).
 */
export const typeTestsEnabled = process.env.KEYWARD_SKIP_TYPE_TESTS !== '1'

/**
 * Resolves `@keyward/<pkg>` and `@keyward/<pkg>/<subpath>` to the sibling's TypeScript
 * source, so a package's tests run against its siblings' current code without a build.
 * Child processes spawned by tests use the built `dist` instead (see scripts/test.mjs).
 */
export const keywardAliases = [
  { find: /^@keyward\/([a-z-]+)$/, replacement: `${packagesDir}$1/src/index.ts` },
  { find: /^@keyward\/([a-z-]+)\/(.+)$/, replacement: `${packagesDir}$1/src/$2.ts` },
]

/**
 * The vitest project of one package: its name, colocated `src/**\/*.test.ts`, generous
 * timeouts for tests that start real components, the teardown that kills leftover processes,
 * and type tests (`src/**\/*.test-d.ts`) checked against the package's own tsconfig.
 */
export function projectConfig(name: string) {
  return {
    resolve: { alias: keywardAliases },
    test: {
      name,
      include: ['src/**/*.test.ts'],
      testTimeout: 60_000,
      hookTimeout: 60_000,
      setupFiles: [teardownSetupFile],
      typecheck: {
        enabled: typeTestsEnabled,
        include: ['src/**/*.test-d.ts'],
        tsconfig: './tsconfig.json',
      },
    },
  }
}

/**
 * The `<name>-pg` project of a package (its `vitest.postgres.config.ts`): the suite files listed
 * in `include`, run again with `KEYWARD_TEST_DRIVER=postgres`, so that test/_driver.ts's
 * `suiteDriver()` gives them the real PostgreSQL driver, on one throwaway cluster per project
 * (test/_postgres-project.ts); type tests run in the package's own project only.
 */
export function postgresProjectConfig(name: string, include: string[]) {
  const { resolve, test } = projectConfig(`${name}-pg`)
  return {
    resolve,
    test: {
      ...test,
      include,
      env: { KEYWARD_TEST_DRIVER: 'postgres' },
      globalSetup: [fileURLToPath(new URL('./test/_postgres-project.ts', import.meta.url))],
      setupFiles: [
        teardownSetupFile,
        fileURLToPath(new URL('./test/_postgres-suite.ts', import.meta.url)),
      ],
      typecheck: { ...test.typecheck, enabled: false },
    },
  }
}

import { packageConfig } from '../../tsup.shared.js'

export default packageConfig(
  {
    index: 'src/index.ts',
    'drivers/memory': 'src/drivers/memory.ts',
    'drivers/file': 'src/drivers/file.ts',
    'drivers/keyring': 'src/drivers/keyring.ts',
    'drivers/postgres': 'src/drivers/postgres.ts',
    'safe-fetch': 'src/safe-fetch.ts',
    testing: 'src/testing.ts',
  },
  // Subpath entries share chunks; optional native and test dependencies stay imports.
  // keepNames: esbuild renames classes with static members (`class _KeywardError`), and errors
  // take their `name` from the class: without it a built KeywardError says `_KeywardError`.
  { splitting: true, keepNames: true, external: ['@napi-rs/keyring', 'pg', 'vitest'] },
)

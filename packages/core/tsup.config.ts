import { defineConfig } from 'tsup'

export default defineConfig({
  entry: {
    index: 'src/index.ts',
    'drivers/memory': 'src/drivers/memory.ts',
    'drivers/file': 'src/drivers/file.ts',
    'drivers/keyring': 'src/drivers/keyring.ts',
    testing: 'src/testing.ts',
  },
  format: ['esm'],
  target: 'node20',
  platform: 'node',
  dts: { compilerOptions: { ignoreDeprecations: '6.0' } },
  sourcemap: true,
  clean: true,
  splitting: true,
  treeshake: true,
  external: ['@napi-rs/keyring', 'vitest'],
})

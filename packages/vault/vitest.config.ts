import { defineProject } from 'vitest/config'
import { keywardAliases } from '../../vitest.shared.js'

export default defineProject({
  resolve: { alias: keywardAliases },
  test: {
    name: 'vault',
    include: ['src/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
})

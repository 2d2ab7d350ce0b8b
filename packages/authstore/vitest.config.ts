import { defineProject } from 'vitest/config'
import { keywardAliases } from '../../vitest.shared.js'

export default defineProject({
  resolve: { alias: keywardAliases },
  test: {
    name: 'authstore',
    include: ['src/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    typecheck: { enabled: true, include: ['src/**/*.test-d.ts'], tsconfig: './tsconfig.json' },
  },
})

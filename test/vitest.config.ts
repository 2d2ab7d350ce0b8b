import { defineProject } from 'vitest/config'
import { teardownSetupFile } from '../vitest.shared.js'

export default defineProject({
  test: {
    name: 'repo',
    include: ['*.test.ts'],
    testTimeout: 60_000,
    setupFiles: [teardownSetupFile],
  },
})

import { availableParallelism } from 'node:os'
import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    projects: ['packages/*', 'packages/*/vitest.postgres.config.ts', 'test'],
    // One test file per core, and at least two at once. vitest's default (cores - 1) runs the
    // files one by one on a 2-core machine, where much of the suite waits on child processes,
    // real servers and timeouts: two files at once cut the suite's wall time by about a third
    // there (`--maxWorkers` still overrides it).
    maxWorkers: Math.max(2, availableParallelism()),
  },
})

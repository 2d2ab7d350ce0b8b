import { defineProject } from 'vitest/config'
import { postgresProjectConfig } from '../../vitest.shared.js'

// The suite files that exercise storage, again on a real PostgreSQL (project `authstore-pg`,
// see test/_driver.ts). In `authstore` only: the files about one backend (ready, storage: the
// backend reported and chosen; cross-process: the file store; postgres: two instances), those
// with no store (record, scopes), and expiry-bounds (the record codec's bounds, whose property
// makes a store per run: 25 s of table set-ups on PostgreSQL for nothing storage-specific).
export default defineProject(
  postgresProjectConfig('authstore', [
    'src/canary.test.ts',
    'src/clear-hook.test.ts',
    'src/component.test.ts',
    'src/names.test.ts',
    'src/oauth-error.test.ts',
    'src/refresh-margin.test.ts',
    'src/refresh-timeout.test.ts',
    'src/refresh.test.ts',
    'src/stale-refresh.test.ts',
    'src/store.test.ts',
    'src/use-tokens.test.ts',
  ]),
)

import { defineProject } from 'vitest/config'
import { postgresProjectConfig } from '../../vitest.shared.js'

// The suite files that exercise storage, again on a real PostgreSQL (project `vault-pg`, see
// test/_driver.ts). In `vault` only: the files about one backend or process model (file-at-rest,
// keyring; store: the atomic-write recording; processes: children on the vault file), those with
// no store (readers, totp-interop), and resolve (the resolver's algorithm on up to 6,000
// secrets: a minute of one-transaction creates on PostgreSQL, for nothing storage-specific).
export default defineProject(
  postgresProjectConfig('vault', [
    'src/error-codes.test.ts',
    'src/export.test.ts',
    'src/git.test.ts',
    'src/run.test.ts',
    'src/source.test.ts',
    'src/totp.test.ts',
    'src/vault.test.ts',
  ]),
)

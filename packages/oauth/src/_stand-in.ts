// A stand-in integration for tests and benches of the integrations layer that never reach a
// provider: its endpoints are on accounts.example.com, which no test calls (the ones that send
// requests catch every one with a customFetch). The client secret is a random value read
// through `@env:`, as a deployment would configure it.
import { randomBytes } from 'node:crypto'
import type { IntegrationConfig } from './integrations-types.js'
import { defineProvider } from './provider.js'

const SECRET_VARIABLE = 'KW_STAND_IN_CLIENT_SECRET'

/** Provider `id` on unreachable endpoints, with a confidential client whose secret is in the environment. */
export function _standInIntegration(id = 'calendar'): IntegrationConfig {
  process.env[SECRET_VARIABLE] ??= randomBytes(16).toString('hex')
  return {
    provider: defineProvider({
      id,
      authorizeUrl: 'https://accounts.example.com/authorize',
      tokenUrl: 'https://accounts.example.com/token',
    }),
    client: { clientId: 'web', clientSecret: `@env:${SECRET_VARIABLE}` },
  }
}

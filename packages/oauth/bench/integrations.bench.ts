// getAccessToken for a valid cached connection (one instance), beside the AuthStore hot path it
// is built on (getToken of the same record), measured in the same run. No provider is called:
// the connection is stored as a callback would store it.
import { randomBytes } from 'node:crypto'
import { AuthStore } from '@keyward/authstore'
import { memoryDriver } from '@keyward/core/drivers/memory'
import { createIntegrations, defineProvider } from '@keyward/oauth'
import { opsPerSecond, report } from '../../../scripts/bench-kit.js'

const driver = memoryDriver()
const store = new AuthStore({ driver, namespace: 'integration-tokens' })
process.env.KW_BENCH_CLIENT_SECRET = randomBytes(16).toString('hex')
const integrations = createIntegrations({
  driver,
  store,
  baseUrl: 'https://app.example.com',
  currentUser: () => null,
  integrations: {
    calendar: {
      provider: defineProvider({
        id: 'calendar',
        authorizeUrl: 'https://accounts.example.com/authorize',
        tokenUrl: 'https://accounts.example.com/token',
      }),
      client: { clientId: 'bench', clientSecret: '@env:KW_BENCH_CLIENT_SECRET' },
      scopes: ['calendar.read'],
    },
  },
})
await store.setToken('calendar', {
  accessToken: `tok_${randomBytes(20).toString('hex')}`,
  refreshToken: `rt_${randomBytes(20).toString('hex')}`,
  expiresIn: 3600,
  scopes: ['calendar.read'],
  account: 'user-42',
})
await integrations.getAccessToken('user-42', 'calendar')
const wanted = { account: 'user-42' }
const storeOps = await opsPerSecond(() => store.getToken('calendar', wanted), {
  batch: 1000,
  durationMs: 2000,
})
const integrationOps = await opsPerSecond(
  () => integrations.getAccessToken('user-42', 'calendar'),
  { batch: 1000, durationMs: 2000 },
)
report({
  group: 'oauth',
  name: 'integrations.getAccessToken, valid cached connection',
  value: integrationOps,
  unit: 'ops/s',
  baseline: { name: 'AuthStore getToken of the same record', value: storeOps },
  higherIsBetter: true,
  goal: '≥ 1M ops/s',
})

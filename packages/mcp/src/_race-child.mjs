// A child process of mcp.e2e.test.ts: the official MCP SDK client with mcpAuthProvider on the
// shared encrypted token file, imported from a snapshot of the BUILT packages like a user
// would. It connects once; for each round the parent sends { offsetSeconds, calls } (the
// store's clock moves past the token's expiry) and it runs that many concurrent tool calls.
import { AuthStore } from '@keyward/authstore'
import { envKey } from '@keyward/core'
import { fileDriver } from '@keyward/core/drivers/file'
import { mcpAuthProvider } from '@keyward/mcp'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'

const { path, serverUrl } = JSON.parse(process.argv[2])
let offsetMs = 0
const driver = fileDriver({ path, key: envKey('KW_MCP_TEST_KEY') })
const store = new AuthStore({ driver, clock: () => Date.now() + offsetMs })
const authProvider = mcpAuthProvider({
  store,
  serverUrl,
  interactive: false,
  allowLoopbackHttp: true,
})
const client = new Client({ name: 'keyward-race', version: '1.0.0' })
await client.connect(new StreamableHTTPClientTransport(new URL(serverUrl), { authProvider }))

process.on('message', async (message) => {
  if (message.type === 'exit') {
    await client.close()
    await driver.close?.()
    process.disconnect()
    return
  }
  offsetMs = message.offsetSeconds * 1000
  const results = await Promise.allSettled(
    Array.from({ length: message.calls }, () => client.callTool({ name: 'whoami' })),
  )
  process.send({
    ok: results.filter((r) => r.status === 'fulfilled' && r.value.content?.[0]?.text === 'alice')
      .length,
    errors: results
      .filter((r) => r.status === 'rejected')
      .map(
        (r) =>
          `${r.reason?.code ?? ''} ${r.reason?.message ?? r.reason} ${r.reason?.cause?.code ?? r.reason?.cause?.message ?? ''}`,
      ),
  })
})
process.send({ ready: true })

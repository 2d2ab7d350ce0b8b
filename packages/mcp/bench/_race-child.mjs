// A child of race.bench.ts: one process of an agent runtime making parallel MCP tool calls for
// `durationMs` with 3-second tokens, in real time. `mode` picks the auth provider:
// - `keyward`: mcpAuthProvider on the shared encrypted token file;
// - `baseline`: the provider the MCP SDK's documentation shows (InMemoryOAuthClientProvider's
//   shape), with its state kept in one shared JSON file so that processes share the sign-in —
//   tokens served as stored, the SDK refreshing on a 401, invalidateCredentials deleting.
import { readFileSync, renameSync, writeFileSync } from 'node:fs'
import { AuthStore } from '@keyward/authstore'
import { envKey } from '@keyward/core'
import { fileDriver } from '@keyward/core/drivers/file'
import { mcpAuthProvider } from '@keyward/mcp'
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'

const { mode, path, serverUrl, calls, durationMs } = JSON.parse(process.argv[2])

class SharedFileOAuthClientProvider {
  constructor(file) {
    this.file = file
    this.signInNeeded = false
  }
  #read() {
    try {
      return JSON.parse(readFileSync(this.file, 'utf8'))
    } catch {
      return {}
    }
  }
  #write(patch) {
    const next = { ...this.#read(), ...patch }
    const tmp = `${this.file}.${process.pid}.tmp`
    writeFileSync(tmp, JSON.stringify(next))
    renameSync(tmp, this.file)
  }
  get redirectUrl() {
    return 'http://127.0.0.1/callback'
  }
  get clientMetadata() {
    return {
      client_name: 'baseline',
      redirect_uris: ['http://127.0.0.1/callback'],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    }
  }
  clientInformation() {
    return this.#read().clientInformation
  }
  saveClientInformation(clientInformation) {
    this.#write({ clientInformation })
  }
  tokens() {
    return this.#read().tokens
  }
  saveTokens(tokens) {
    this.#write({ tokens })
  }
  redirectToAuthorization() {
    // A headless agent: nobody can sign in now. The session is lost.
    this.signInNeeded = true
  }
  saveCodeVerifier(codeVerifier) {
    this.#write({ codeVerifier })
  }
  codeVerifier() {
    return this.#read().codeVerifier
  }
  invalidateCredentials(scope) {
    const state = this.#read()
    if (scope === 'all' || scope === 'tokens') delete state.tokens
    if (scope === 'all' || scope === 'client') delete state.clientInformation
    if (scope === 'all' || scope === 'verifier') delete state.codeVerifier
    this.#write({ tokens: state.tokens, clientInformation: state.clientInformation })
  }
}

let authProvider
let store
if (mode === 'keyward') {
  const driver = fileDriver({ path, key: envKey('KW_MCP_BENCH_KEY') })
  store = new AuthStore({ driver })
  authProvider = mcpAuthProvider({ store, serverUrl, interactive: false, allowLoopbackHttp: true })
} else {
  authProvider = new SharedFileOAuthClientProvider(path)
}
let ok = 0
let failed = 0
let retried = 0
const errors = new Set()
/** What a host does with either provider: after the SDK's UnauthorizedError, retry once. */
async function withRetry(fn) {
  try {
    return await fn()
  } catch (error) {
    if (!(error instanceof UnauthorizedError)) throw error
    retried += 1
    return fn()
  }
}
let client
try {
  await withRetry(async () => {
    client = new Client({ name: `race-${mode}`, version: '1.0.0' })
    await client.connect(new StreamableHTTPClientTransport(new URL(serverUrl), { authProvider }))
  })
  const end = Date.now() + durationMs
  while (Date.now() < end) {
    const results = await Promise.allSettled(
      Array.from({ length: calls }, () => withRetry(() => client.callTool({ name: 'whoami' }))),
    )
    for (const r of results) {
      if (r.status === 'fulfilled') ok += 1
      else {
        failed += 1
        errors.add(
          String(r.reason?.code ?? r.reason?.name ?? 'error') +
            (process.env.KW_MCP_BENCH_DEBUG
              ? ` ${r.reason?.message} ${r.reason?.cause?.code ?? ''}`
              : ''),
        )
      }
    }
  }
} catch (error) {
  errors.add(
    `connect: ${error?.code ?? error?.name}${process.env.KW_MCP_BENCH_DEBUG ? ` ${error?.message}` : ''}`,
  )
}
// Lost: this process ends needing a new sign-in (no usable token, or the SDK asked for one).
let lost
if (mode === 'keyward') {
  const meta = await store.getMetadata(`mcp:${serverUrl}`).catch(() => null)
  lost = meta === null || meta.state === 'reauth_required' || errors.has('KEYWARD_AUTH_REQUIRED')
} else {
  lost = authProvider.signInNeeded || authProvider.tokens()?.refresh_token === undefined
}
await client?.close().catch(() => {})
// Disconnect only once the message is written: a disconnect right after send() can drop it,
// and the parent then sees this process exit without a result.
process.send({ ok, failed, retried, lost, errors: [...errors] }, () => process.disconnect())

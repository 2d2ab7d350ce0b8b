// What the provider keeps beside the tokens, in the AuthStore's driver (componentDriver):
// discovery state per MCP server, client registrations per authorization server (issuer),
// what each grant was issued by (for keyward's refresher), and pending sign-ins per `state`.
// Every read is validated (valibot); an unreadable entry is ignored with a warning and replaced
// by the next write.
import { createHash } from 'node:crypto'
import { type AuthStore, componentDriver } from '@keyward/authstore'
import { type Driver, KeywardError, type Logger } from '@keyward/core'
import * as v from 'valibot'
import { KEYWARD_MCP_STATE_CORRUPT } from '../codes.js'
import type { McpClientInformation, McpDiscoveryState } from '../types.js'

const MAX_ENTRY_BYTES = 256 * 1024
/** A pending sign-in is kept this long. */
export const FLOW_TTL_MS = 10 * 60_000

const text = v.pipe(v.string(), v.minLength(1), v.maxLength(8192))

const ClientSchema = v.looseObject({
  client_id: text,
  client_secret: v.optional(text),
  client_id_issued_at: v.optional(v.number()),
  client_secret_expires_at: v.optional(v.number()),
  token_endpoint_auth_method: v.optional(text),
  issuer: v.optional(text),
})

const DiscoverySchema = v.looseObject({
  authorizationServerUrl: text,
  resourceMetadataUrl: v.optional(text),
  authorizationServerMetadata: v.optional(
    v.looseObject({ issuer: text, authorization_endpoint: text, token_endpoint: text }),
  ),
  resourceMetadata: v.optional(v.looseObject({ resource: text })),
})

/** The client a grant (or a pending sign-in) was issued to. */
const GrantClientSchema = v.object({
  clientId: text,
  clientSecret: v.optional(text),
  authMethod: v.optional(v.picklist(['client_secret_basic', 'client_secret_post', 'none'])),
})

/** What keyward's refresher needs for one grant: where and as whom to refresh, for what resource. */
const GrantSchema = v.object({
  issuer: text,
  tokenEndpoint: text,
  resource: v.optional(text),
  client: GrantClientSchema,
})

const FlowSchema = v.object({
  ...GrantSchema.entries,
  state: text,
  codeVerifier: text,
  redirectUri: text,
  scopes: v.array(text),
  /** Whether the server promises `iss` on its authorization responses (RFC 9207). */
  issRequired: v.boolean(),
  createdAt: v.number(),
})

export type GrantClient = v.InferOutput<typeof GrantClientSchema>
export type Grant = v.InferOutput<typeof GrantSchema>
export type Flow = v.InferOutput<typeof FlowSchema>

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

/** A short, key-safe name for a URL (issuer or server): a hash, never the URL itself. */
export function urlKey(url: string): string {
  return createHash('sha256').update(url).digest('base64url').slice(0, 32)
}

/** An issuer as a binding key: exact, except one trailing `/` (as the SDK compares them). */
export function issuerOf(url: string): string {
  return url.endsWith('/') ? url.slice(0, -1) : url
}

export class Storage {
  readonly #driver: Driver
  readonly #server: string
  readonly #logger: Logger

  constructor(store: AuthStore, serverKey: string, logger: Logger) {
    this.#driver = componentDriver(store, 'mcp')
    this.#server = serverKey
    this.#logger = logger
  }

  async #read<S extends v.GenericSchema>(
    key: string,
    schema: S,
  ): Promise<v.InferOutput<S> | undefined> {
    const stored = await this.#driver.get(key)
    if (stored === null) return undefined
    try {
      if (stored.value.byteLength > MAX_ENTRY_BYTES) throw new Error('too large')
      const parsed = v.safeParse(schema, JSON.parse(decoder.decode(stored.value)))
      if (parsed.success) return parsed.output
    } catch {
      // reported below, without the content
    }
    this.#logger.warn('mcp: ignoring an unreadable stored entry', {
      code: KEYWARD_MCP_STATE_CORRUPT,
      key,
    })
    return undefined
  }

  async #write(key: string, value: unknown): Promise<void> {
    const bytes = encoder.encode(JSON.stringify(value))
    if (bytes.byteLength > MAX_ENTRY_BYTES)
      throw new KeywardError(KEYWARD_MCP_STATE_CORRUPT, `mcp: entry ${key} would be too large`, {
        details: { key },
      })
    await this.#driver.set(key, bytes)
  }

  discovery(): Promise<McpDiscoveryState | undefined> {
    return this.#read(`server/${this.#server}/discovery`, DiscoverySchema) as Promise<
      McpDiscoveryState | undefined
    >
  }

  saveDiscovery(state: McpDiscoveryState): Promise<void> {
    return this.#write(`server/${this.#server}/discovery`, state)
  }

  async forgetDiscovery(): Promise<void> {
    await this.#driver.delete(`server/${this.#server}/discovery`)
  }

  /** The registration kept for `issuer`, never one of another issuer. */
  registration(issuer: string): Promise<McpClientInformation | undefined> {
    return this.#read(`issuer/${urlKey(issuerOf(issuer))}/client`, ClientSchema)
  }

  saveRegistration(issuer: string, information: McpClientInformation): Promise<void> {
    return this.#write(`issuer/${urlKey(issuerOf(issuer))}/client`, information)
  }

  /** Drops the registration of `issuer` if it is still `clientId` (a sibling may have replaced it). */
  async forgetRegistration(issuer: string, clientId: string | undefined): Promise<void> {
    const key = `issuer/${urlKey(issuerOf(issuer))}/client`
    const stored = await this.#driver.get(key)
    if (stored === null) return
    const current = await this.#read(key, ClientSchema)
    if (current !== undefined && clientId !== undefined && current.client_id !== clientId) return
    try {
      await this.#driver.delete(key, { ifVersion: stored.version })
    } catch {
      // replaced meanwhile by another process: theirs stays
    }
  }

  grant(service: string, account: string): Promise<Grant | undefined> {
    return this.#read(`grant/${urlKey(service)}/${encodeURIComponent(account)}`, GrantSchema)
  }

  saveGrant(service: string, account: string, grant: Grant): Promise<void> {
    return this.#write(`grant/${urlKey(service)}/${encodeURIComponent(account)}`, grant)
  }

  /** A pending sign-in by its `state`; expired ones are dropped. */
  async flow(state: string, now: number): Promise<Flow | undefined> {
    const key = `flow/${this.#server}/${urlKey(state)}`
    const flow = await this.#read(key, FlowSchema)
    if (flow !== undefined && flow.state === state && now - flow.createdAt < FLOW_TTL_MS)
      return flow
    if (flow !== undefined) await this.#driver.delete(key)
    return undefined
  }

  /** The newest pending sign-in of this server (for the SDK's `codeVerifier()` after a restart). */
  async latestFlow(now: number): Promise<Flow | undefined> {
    let latest: Flow | undefined
    for (const key of await this.#driver.list(`flow/${this.#server}/`)) {
      const flow = await this.#read(key, FlowSchema)
      if (flow === undefined || now - flow.createdAt >= FLOW_TTL_MS) continue
      if (latest === undefined || flow.createdAt > latest.createdAt) latest = flow
    }
    return latest
  }

  saveFlow(flow: Flow): Promise<void> {
    return this.#write(`flow/${this.#server}/${urlKey(flow.state)}`, flow)
  }

  async forgetFlow(state: string): Promise<void> {
    await this.#driver.delete(`flow/${this.#server}/${urlKey(state)}`)
  }

  /** Drops every pending sign-in of this server. */
  async forgetFlows(): Promise<void> {
    for (const key of await this.#driver.list(`flow/${this.#server}/`))
      await this.#driver.delete(key)
  }
}

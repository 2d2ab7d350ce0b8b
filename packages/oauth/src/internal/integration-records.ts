import { createHash } from 'node:crypto'
import { type Driver, KEYWARD_VERSION_CONFLICT, KeywardError } from '@keyward/core'
import * as v from 'valibot'
import {
  KEYWARD_INTEGRATION_STATE_EXPIRED,
  KEYWARD_INTEGRATION_STATE_INVALID,
  KEYWARD_INTEGRATION_STATE_REUSED,
  KEYWARD_INTEGRATION_STATE_USER_MISMATCH,
} from '../codes.js'
import type { Account } from '../flows.js'

/** A started connect, kept server-side until its callback: bound to the user, single use. */
export interface Pending {
  user: string
  integration: string
  codeVerifier: string
  nonce?: string | undefined
  redirectUri: string
  scopes: string[]
  upgrade: boolean
  returnTo: string
  expiresAt: number
  used: boolean
}

/** What the lifecycle keeps about a connection beside the token record: never a token. */
export interface Connection {
  account: Account | null
  connectedAt: number
  lastRefreshAt: number
}

const MAX_RECORD_BYTES = 16 * 1024
const STATE_SHAPE = /^[A-Za-z0-9_-]{16,256}$/
const text = v.pipe(v.string(), v.maxLength(4096))
const PendingSchema = v.object({
  user: text,
  integration: text,
  codeVerifier: text,
  nonce: v.optional(text),
  redirectUri: text,
  scopes: v.pipe(v.array(text), v.maxLength(256)),
  upgrade: v.boolean(),
  returnTo: text,
  expiresAt: v.number(),
  used: v.boolean(),
})
const ConnectionSchema = v.object({
  account: v.nullable(v.object({ id: text, email: v.optional(text), name: v.optional(text) })),
  connectedAt: v.number(),
  lastRefreshAt: v.number(),
})
const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

function decode<T>(bytes: Uint8Array, schema: v.GenericSchema<unknown, T>): T | null {
  if (bytes.byteLength > MAX_RECORD_BYTES) return null
  try {
    const parsed = v.safeParse(schema, JSON.parse(decoder.decode(bytes)))
    return parsed.success ? parsed.output : null
  } catch {
    return null
  }
}

function stateError(
  code:
    | typeof KEYWARD_INTEGRATION_STATE_EXPIRED
    | typeof KEYWARD_INTEGRATION_STATE_INVALID
    | typeof KEYWARD_INTEGRATION_STATE_REUSED
    | typeof KEYWARD_INTEGRATION_STATE_USER_MISMATCH,
  message: string,
  integration?: string,
): KeywardError {
  return new KeywardError(code, message, {
    details: { field: 'state', ...(integration === undefined ? {} : { integration }) },
  })
}

/** The lifecycle records of one `createIntegrations`, under `<namespace>/` of its driver. */
export class LifecycleRecords {
  readonly #driver: Driver
  readonly #prefix: string

  constructor(driver: Driver, namespace: string) {
    this.#driver = driver
    this.#prefix = `${namespace.replace(/%/g, '%25').replace(/\//g, '%2F')}/`
  }

  /** The driver-key prefix of every record (`<namespace>/`). */
  get prefix(): string {
    return this.#prefix
  }

  #stateKey(state: string): string {
    return `${this.#prefix}state/${createHash('sha256').update(state).digest('hex')}`
  }

  #connectionPrefix(integration: string): string {
    return `${this.#prefix}conn/${encodeURIComponent(integration)}/`
  }

  #connectionKey(integration: string, user: string): string {
    return `${this.#connectionPrefix(integration)}${encodeURIComponent(user)}`
  }

  /** Stores a started connect under (the hash of) its state; the state is fresh, so never taken. */
  async savePending(state: string, pending: Pending): Promise<void> {
    await this.#driver.set(this.#stateKey(state), encoder.encode(JSON.stringify(pending)), {
      ifVersion: 0,
    })
  }

  /**
   * Takes the connect a callback's `state` names, for `user` (the user signed in now): refuses
   * an unknown, expired, reused or other user's state, and marks it used first (compare-and-set,
   * so two callbacks racing with one state get it once).
   */
  async takePending(state: unknown, user: string, now: number): Promise<Pending> {
    if (typeof state !== 'string' || !STATE_SHAPE.test(state))
      throw stateError(KEYWARD_INTEGRATION_STATE_INVALID, 'the callback has no valid `state`')
    const key = this.#stateKey(state)
    const stored = await this.#driver.get(key)
    const pending = stored === null ? null : decode(stored.value, PendingSchema)
    if (stored === null || pending === null)
      throw stateError(
        KEYWARD_INTEGRATION_STATE_INVALID,
        'the callback `state` was not issued here (or was swept after it expired)',
      )
    const { integration } = pending
    if (pending.used)
      throw stateError(
        KEYWARD_INTEGRATION_STATE_REUSED,
        'the callback `state` was already used; start the connection again',
        integration,
      )
    try {
      await this.#driver.set(key, encoder.encode(JSON.stringify({ ...pending, used: true })), {
        ifVersion: stored.version,
      })
    } catch (error) {
      if (KeywardError.isInstance(error) && error.code === KEYWARD_VERSION_CONFLICT)
        throw stateError(
          KEYWARD_INTEGRATION_STATE_REUSED,
          'the callback `state` was already used; start the connection again',
          integration,
        )
      throw error
    }
    if (now >= pending.expiresAt)
      throw stateError(
        KEYWARD_INTEGRATION_STATE_EXPIRED,
        `the connection of \`${integration}\` was started too long ago; start it again`,
        integration,
      )
    if (pending.user !== user)
      throw stateError(
        KEYWARD_INTEGRATION_STATE_USER_MISMATCH,
        'the callback `state` was issued to another user than the one signed in',
        integration,
      )
    return pending
  }

  /** Deletes pending connects that expired more than `graceMs` ago; returns how many. */
  async sweepPending(now: number, graceMs: number): Promise<number> {
    let swept = 0
    for (const key of await this.#driver.list(`${this.#prefix}state/`)) {
      const stored = await this.#driver.get(key)
      if (stored === null) continue
      const pending = decode(stored.value, PendingSchema)
      if (pending !== null && now < pending.expiresAt + graceMs) continue
      try {
        if (await this.#driver.delete(key, { ifVersion: stored.version })) swept += 1
      } catch {
        // Changed meanwhile: the next sweep looks again.
      }
    }
    return swept
  }

  async connection(integration: string, user: string): Promise<Connection | null> {
    const stored = await this.#driver.get(this.#connectionKey(integration, user))
    return stored === null ? null : decode(stored.value, ConnectionSchema)
  }

  async saveConnection(integration: string, user: string, connection: Connection): Promise<void> {
    await this.#driver.set(
      this.#connectionKey(integration, user),
      encoder.encode(JSON.stringify(connection)),
    )
  }

  async deleteConnection(integration: string, user: string): Promise<void> {
    await this.#driver.delete(this.#connectionKey(integration, user))
  }

  /** The users with a connection record for `integration`. */
  async users(integration: string): Promise<string[]> {
    const prefix = this.#connectionPrefix(integration)
    const users: string[] = []
    for (const key of await this.#driver.list(prefix)) {
      try {
        users.push(decodeURIComponent(key.slice(prefix.length)))
      } catch {
        // Not a key this module wrote.
      }
    }
    return users
  }
}

/**
 * Public types of {@link createBroker}: the declarative HTTP tool, the broker's options and
 * what a brokered request returns.
 *
 * @module
 */
import type { AuditEntry, SecretSource, TokenProvider } from '@keyward/core'
import type { Redactor } from '@keyward/templating'
import type { ApprovalRequest } from './host-types.js'

/**
 * A declarative HTTP tool (the shape agent runtimes such as an MCP executor hand over).
 * `url`, `headers` and `body` may hold `${secret.…}`, `${env.…}` and `${param.…}` references;
 * they are substituted at the HTTP boundary, never before.
 */
export interface HttpTool {
  /** A name for approvals and the audit log. */
  name?: string | undefined
  /** The HTTP method (default `GET`). */
  method?: string | undefined
  /** The URL; its origin (scheme, host, port) must be written literally, without references. */
  url: string
  headers?: Readonly<Record<string, string>> | undefined
  /** A string, or a JSON value sent as `application/json`. */
  body?: unknown
  /** The service whose token is attached as `Authorization: Bearer …`. */
  auth?: string | undefined
  /** The scope(s) the token must carry; checked before any byte is sent. */
  scope?: string | readonly string[] | undefined
  /** Origins the token may be sent to (default: the origin of `url`). */
  origins?: readonly string[] | undefined
  /** Ask a human first (`always`, or `once` per broker); default `never`. */
  approval?: 'always' | 'once' | 'never' | undefined
}

/** What a brokered request returns: redacted, with echoes of credentials masked. */
export interface BrokerResponse {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  /** The response body as text, redacted. */
  readonly body: string
}

/** Options of {@link createBroker}. */
export interface BrokerOptions {
  /** Hands out tokens for `auth` services. */
  tokens?: TokenProvider | undefined
  /** Resolves `${secret.<id>.<field>}` references (asked for `<id>.<field>`, or `<id>`). */
  secrets?: SecretSource | undefined
  /** Resolves `${env.NAME}` references (asked for `NAME`). */
  env?: SecretSource | undefined
  /** Masks every value substituted or injected (default: a new `createRedactor()`). */
  redactor?: Redactor | undefined
  /** Receives one entry per request (and per refusal); never a value. */
  audit?: ((entry: AuditEntry) => void | Promise<void>) | undefined
  /** Asked before a tool with `approval: 'always' | 'once'` runs; without it such tools are refused. */
  approve?: ((request: ApprovalRequest) => Promise<boolean>) | undefined
  /** When set, requests may only go to these origins (a plugin's network grant). */
  allowedOrigins?: readonly string[] | undefined
  /**
   * Development only: `http:` and loopback addresses are allowed for origins whose host is
   * loopback (`127.0.0.1`, `[::1]`, `localhost`) — and only for those.
   */
  allowLoopback?: boolean | undefined
  /** The plugin this broker serves, for approvals and audit entries. */
  plugin?: string | undefined
  /** Largest response body, in bytes (default 1 MiB). */
  maxBytes?: number | undefined
  /** Time limit per request, in ms (default 10 s). */
  timeoutMs?: number | undefined
  /** Resolves host names (default: the system resolver); every address is checked. */
  resolve?: ((host: string) => Promise<string[]>) | undefined
}

/** A broker: runs declarative HTTP tools with the checks, injection and redaction above. */
export interface Broker {
  /** Runs one tool with its `${param.…}` values. */
  execute(tool: HttpTool, params?: Readonly<Record<string, unknown>>): Promise<BrokerResponse>
  /** The redactor every injected value is registered with. */
  readonly redactor: Redactor
}

/**
 * Stable error codes of `@keyward/mcp`. Every error this package throws is a `KeywardError`
 * (from `@keyward/core`) with one of these codes, one of `@keyward/oauth`'s (a refused
 * authorization, a state or `iss` mismatch, a sign-in timeout), core's `KEYWARD_AUTH_REQUIRED`
 * (a sign-in is needed and the provider may not start one), or core's
 * `KEYWARD_INVALID_ARGUMENT` for a bad option. Messages and `details` never carry a token, a
 * code, a verifier or a client secret.
 *
 * @example
 * ```ts
 * import { KeywardError } from '@keyward/core'
 * import { KEYWARD_MCP_FLOW_NOT_FOUND } from '@keyward/mcp'
 *
 * const stale = (error: unknown) =>
 *   KeywardError.isInstance(error) && error.code === KEYWARD_MCP_FLOW_NOT_FOUND
 * ```
 * @module
 */

/**
 * The sign-in a callback (or the SDK's `codeVerifier()`) belongs to is not known: it was never
 * started here, finished already, or expired (a pending sign-in is kept for 10 minutes). Start
 * the connection again.
 */
export const KEYWARD_MCP_FLOW_NOT_FOUND = 'KEYWARD_MCP_FLOW_NOT_FOUND'

/**
 * What the provider stored for this MCP server (a client registration, discovery state, a
 * pending sign-in) cannot be read. It is ignored and replaced by the next sign-in; `details.key`
 * names the entry.
 */
export const KEYWARD_MCP_STATE_CORRUPT = 'KEYWARD_MCP_STATE_CORRUPT'

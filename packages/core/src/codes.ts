/**
 * Stable error codes of `@keyward/core`. A caller branches on `error.code`, never on the
 * message text. Other keyward packages define their own `KEYWARD_*` codes the same way.
 *
 * @example
 * ```ts
 * import { KEYWARD_VERSION_CONFLICT, KeywardError } from '@keyward/core'
 *
 * try {
 *   await driver.set('k', new Uint8Array([1]), { ifVersion: 3 })
 * } catch (error) {
 *   if (KeywardError.isInstance(error) && error.code === KEYWARD_VERSION_CONFLICT) {
 *     // re-read and retry
 *   }
 * }
 * ```
 * @module
 */

/** An argument or option passed to a keyward function is invalid; the message names it. */
export const KEYWARD_INVALID_ARGUMENT = 'KEYWARD_INVALID_ARGUMENT'
/**
 * A storage key is empty, too long, or contains a character a driver cannot store. Use a shorter
 * key without NUL.
 */
export const KEYWARD_INVALID_KEY = 'KEYWARD_INVALID_KEY'
/** `set`/`delete` with `ifVersion` found another version: re-read, then retry. */
export const KEYWARD_VERSION_CONFLICT = 'KEYWARD_VERSION_CONFLICT'
/**
 * A value is larger than the driver (or the platform beneath it) can store. Keep large values in
 * the file driver.
 */
export const KEYWARD_VALUE_TOO_LARGE = 'KEYWARD_VALUE_TOO_LARGE'
/**
 * `withLock` could not take the lock within its timeout: another holder is alive and busy. Retry
 * later or raise `timeoutMs`.
 */
export const KEYWARD_LOCK_TIMEOUT = 'KEYWARD_LOCK_TIMEOUT'
/**
 * `withLock` was called again for a key whose lock the same async context already holds.
 * Restructure: locks are not reentrant.
 */
export const KEYWARD_LOCK_REENTRANT = 'KEYWARD_LOCK_REENTRANT'
/**
 * An optional dependency (for example `@napi-rs/keyring`) is not installed; the message names it.
 */
export const KEYWARD_MISSING_DEPENDENCY = 'KEYWARD_MISSING_DEPENDENCY'
/** The file is not a keyward store (wrong magic bytes): nothing was read or overwritten. */
export const KEYWARD_STORE_UNKNOWN_FORMAT = 'KEYWARD_STORE_UNKNOWN_FORMAT'
/**
 * The store was written by a newer format version than this release reads. Upgrade
 * `@keyward/core`.
 */
export const KEYWARD_STORE_UNSUPPORTED_VERSION = 'KEYWARD_STORE_UNSUPPORTED_VERSION'
/**
 * The store file is shorter than its own framing says: it was cut off. Nothing was overwritten.
 * Restore it from a backup.
 */
export const KEYWARD_STORE_TRUNCATED = 'KEYWARD_STORE_TRUNCATED'
/**
 * The store file failed an integrity check (a changed byte, a swapped or forged record). Restore
 * it from a backup.
 */
export const KEYWARD_STORE_CORRUPT = 'KEYWARD_STORE_CORRUPT'
/**
 * The store went back to an older state than this driver has seen, or than the counter the host
 * pinned (`minCounter`): an older copy of the file (or another store) replaced it, or it was
 * deleted. Nothing was read from it or written to it.
 */
export const KEYWARD_STORE_ROLLBACK = 'KEYWARD_STORE_ROLLBACK'
/**
 * The store file cannot be read or written (permissions, missing directory, disk full). Check
 * permissions, free space and that the directory exists.
 */
export const KEYWARD_STORE_IO = 'KEYWARD_STORE_IO'
/**
 * This driver cannot write several keys atomically (`setMany`): its backend has no transaction
 * (the OS keyring). Nothing was written.
 */
export const KEYWARD_ATOMIC_WRITE_UNSUPPORTED = 'KEYWARD_ATOMIC_WRITE_UNSUPPORTED'
/**
 * The PostgreSQL server could not be reached or did not answer in time (connection refused or
 * lost, `connectTimeoutMs`/`queryTimeoutMs` exceeded, server shutting down, too many
 * connections), or the driver was closed. `details.reason` says which. Nothing was changed
 * unless the server committed before the connection was lost: re-read, then retry.
 */
export const KEYWARD_POSTGRES_UNAVAILABLE = 'KEYWARD_POSTGRES_UNAVAILABLE'
/**
 * The store's table does not exist in this database (or this role cannot see it). Run
 * `await driver.migrate()` once with a role that may create tables (docs/postgres.md).
 */
export const KEYWARD_POSTGRES_NOT_MIGRATED = 'KEYWARD_POSTGRES_NOT_MIGRATED'
/**
 * PostgreSQL refused a statement for another reason (permissions, a changed table);
 * `details.sqlstate` holds the server's SQLSTATE code and `cause` its error.
 */
export const KEYWARD_POSTGRES_ERROR = 'KEYWARD_POSTGRES_ERROR'
/** The passphrase does not open this store. Ask for the passphrase again. */
export const KEYWARD_WRONG_PASSPHRASE = 'KEYWARD_WRONG_PASSPHRASE'
/**
 * The key (from the keyring or the environment) does not open this store. Supply the key the store
 * was created with.
 */
export const KEYWARD_WRONG_KEY = 'KEYWARD_WRONG_KEY'
/**
 * The store was created with another kind of key provider (for example a passphrase store opened
 * with `envKey`). Open it with that kind of provider (`details.stored`).
 */
export const KEYWARD_KEY_TYPE_MISMATCH = 'KEYWARD_KEY_TYPE_MISMATCH'
/**
 * The key the provider needs is not there (unset environment variable, key missing from the
 * keyring). Set it (`openssl rand -base64 32` for a new store) or restore the entry; the message
 * says which.
 */
export const KEYWARD_KEY_MISSING = 'KEYWARD_KEY_MISSING'
/** The key material is malformed (not base64, not 32 bytes). Supply base64 of exactly 32 bytes. */
export const KEYWARD_KEY_INVALID = 'KEYWARD_KEY_INVALID'
/**
 * No OS keyring is reachable (no Secret Service daemon, no session bus, unsupported platform).
 * Start a Secret Service (gnome-keyring), or use `passphraseKey`/`envKey`.
 */
export const KEYWARD_KEYRING_UNAVAILABLE = 'KEYWARD_KEYRING_UNAVAILABLE'
/** The OS keyring is there but locked, or the user denied access. Unlock it and retry. */
export const KEYWARD_KEYRING_LOCKED = 'KEYWARD_KEYRING_LOCKED'
/** The OS keyring failed in a way keyward does not recognise; `cause` holds the platform error. */
export const KEYWARD_KEYRING_ERROR = 'KEYWARD_KEYRING_ERROR'
/**
 * The OS keyring (or the session bus in front of it) did not answer within the call's
 * `timeoutMs` (default 10 s). Restart the keyring daemon, check `DBUS_SESSION_BUS_ADDRESS`, or
 * raise `timeoutMs`.
 */
export const KEYWARD_KEYRING_TIMEOUT = 'KEYWARD_KEYRING_TIMEOUT'
/**
 * Several OS keyring items match one service and account (another program stored its own item
 * under the same names), so keyward cannot tell which is current. Delete the extra item; the
 * message gives the command that lists them.
 */
export const KEYWARD_KEYRING_AMBIGUOUS = 'KEYWARD_KEYRING_AMBIGUOUS'
/**
 * A refresher could not refresh a token (a {@link RefreshError}). `error.transient` says whether
 * retrying later may help (network errors, 5xx, 429) or not (`invalid_grant`: the refresh token
 * is dead).
 */
export const KEYWARD_REFRESH_FAILED = 'KEYWARD_REFRESH_FAILED'
/**
 * No usable token: none is stored, it expired and cannot be refreshed, it lacks a scope the
 * caller asked for, or the provider refused the refresh token and the user must sign in again.
 * `details.reason` says which (`AuthenticationRequiredReason`), `details.missingScopes` what to
 * ask for. Thrown by token providers (`AuthStore.getToken`) and by what uses one (the sandbox
 * broker).
 */
export const KEYWARD_AUTH_REQUIRED = 'KEYWARD_AUTH_REQUIRED'
/** The URL cannot be parsed, carries credentials, or its host is not a usable name or address. */
export const KEYWARD_SSRF_INVALID_URL = 'KEYWARD_SSRF_INVALID_URL'
/** The scheme is not `https:` (plain `http:` only with `allowLoopbackHttp` and a loopback address). */
export const KEYWARD_SSRF_SCHEME = 'KEYWARD_SSRF_SCHEME'
/** The host is, or resolves to, a loopback, private, link-local, unique-local, multicast, reserved or mapped address. */
export const KEYWARD_SSRF_BLOCKED_ADDRESS = 'KEYWARD_SSRF_BLOCKED_ADDRESS'
/** The host name did not resolve to any address (or the resolver failed or returned something that is not an address). */
export const KEYWARD_SSRF_RESOLVE_FAILED = 'KEYWARD_SSRF_RESOLVE_FAILED'
/** The server answered with a redirect; `safeFetch` never follows redirects. */
export const KEYWARD_SSRF_REDIRECT = 'KEYWARD_SSRF_REDIRECT'
/** The response body is larger than `maxBytes` (default 1 MiB). */
export const KEYWARD_FETCH_TOO_LARGE = 'KEYWARD_FETCH_TOO_LARGE'
/** The request did not complete within `timeoutMs`. */
export const KEYWARD_FETCH_TIMEOUT = 'KEYWARD_FETCH_TIMEOUT'
/** The caller's `AbortSignal` fired. */
export const KEYWARD_FETCH_ABORTED = 'KEYWARD_FETCH_ABORTED'
/** The connection failed (refused, reset, TLS failure). */
export const KEYWARD_FETCH_NETWORK = 'KEYWARD_FETCH_NETWORK'

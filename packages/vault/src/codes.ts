/**
 * Stable error codes of `@keyward/vault`. Every error the vault throws is a `KeywardError`
 * (from `@keyward/core`) with one of these codes, a core code (`KEYWARD_INVALID_ARGUMENT`, the
 * store and keyring codes) or a templating code (`KEYWARD_REFERENCE_UNRESOLVED`). Messages and
 * `details` name the collection, environment, secret id and field at fault, never a value.
 *
 * @example
 * ```ts
 * import { KeywardError } from '@keyward/core'
 * import { KEYWARD_VERSION_CONFLICT, openVault } from '@keyward/vault'
 *
 * const vault = await openVault()
 * const [secret] = await vault.secrets.list({ collection: 'my-saas' })
 * try {
 *   await vault.secrets.update(secret!.id, { value: 'new' }, { ifVersion: secret!.version })
 * } catch (error) {
 *   if (KeywardError.isInstance(error) && error.code === KEYWARD_VERSION_CONFLICT) {
 *     // someone else changed it first: re-read, then retry
 *   }
 * }
 * ```
 * @module
 */

/** A collection, environment or secret with that slug or name already exists. Nothing was written. */
export const KEYWARD_VAULT_DUPLICATE = 'KEYWARD_VAULT_DUPLICATE'
/** A slug, name, type, field or value is malformed; the message names which. Nothing was written. */
export const KEYWARD_VAULT_INVALID = 'KEYWARD_VAULT_INVALID'
/** No collection with that slug. */
export const KEYWARD_VAULT_UNKNOWN_COLLECTION = 'KEYWARD_VAULT_UNKNOWN_COLLECTION'
/** No environment with that slug in the collection. */
export const KEYWARD_VAULT_UNKNOWN_ENVIRONMENT = 'KEYWARD_VAULT_UNKNOWN_ENVIRONMENT'
/** No secret with that id (or the secret has no such field). */
export const KEYWARD_VAULT_UNKNOWN_SECRET = 'KEYWARD_VAULT_UNKNOWN_SECRET'
/** The vault was written by a newer release of `@keyward/vault` (a newer record format). */
export const KEYWARD_VAULT_UNSUPPORTED_FORMAT = 'KEYWARD_VAULT_UNSUPPORTED_FORMAT'
/** A stored record does not decode as a vault record. It is not quoted; nothing was changed. */
export const KEYWARD_VAULT_RECORD_CORRUPT = 'KEYWARD_VAULT_RECORD_CORRUPT'
/**
 * No key to open the vault: no OS keyring is reachable and no `key` was given. The message
 * says the fix: set `KEYWARD_KEY` or pass `key: passphraseKey(…)`.
 */
export const KEYWARD_VAULT_NO_KEY = 'KEYWARD_VAULT_NO_KEY'
/** A value cannot be written in the requested export format (`details` names the secret). */
export const KEYWARD_VAULT_UNREPRESENTABLE = 'KEYWARD_VAULT_UNREPRESENTABLE'
/** A `totp` secret or `otpauth://` URI / base32 seed is malformed, or the secret is not `totp`. */
export const KEYWARD_VAULT_TOTP = 'KEYWARD_VAULT_TOTP'
/** `run` could not start the command (not found, not executable). */
export const KEYWARD_VAULT_SPAWN_FAILED = 'KEYWARD_VAULT_SPAWN_FAILED'
/**
 * `run` refused to inject a secret whose name changes which program runs or what code it loads
 * (`PATH`, `NODE_OPTIONS`, `LD_*`…); allow it by name with `allowUnsafeNames`. Nothing ran.
 */
export const KEYWARD_VAULT_UNSAFE_NAME = 'KEYWARD_VAULT_UNSAFE_NAME'

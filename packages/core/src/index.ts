/**
 * `@keyward/core`: the contracts and errors every keyward package builds on — `KeywardError`
 * and its codes, the `Driver` storage contract, key providers for encrypted stores, and
 * helpers that keep secret material out of logs. Storage drivers live in their own subpath
 * exports (`@keyward/core/drivers/memory`, `/file`, `/keyring`) so that this entry never
 * loads a backend.
 *
 * @module
 */
export * from './audit.js'
export * from './contracts.js'
export {
  type EncryptedDriver,
  type EncryptedDriverOptions,
  encryptedDriver,
} from './encrypted.js'
export * from './errors.js'
export { assertOptions, isDriver, type OptionCheck, type OptionKind } from './guards.js'
export { type DefaultKeyOptions, defaultKey } from './keys/default.js'
export { type EnvKeyOptions, envKey } from './keys/env.js'
export { type KeyringKeyOptions, type KeyringKeyProvider, keyringKey } from './keys/keyring.js'
export { type PassphraseKeyOptions, passphraseKey, type ScryptCost } from './keys/passphrase.js'
export { knownOAuthError } from './oauth-errors.js'
export { writePrivateFile } from './private-file.js'
export { REDACTED, redactFields, Sensitive } from './sensitive.js'
export { isWellFormedText } from './well-formed.js'

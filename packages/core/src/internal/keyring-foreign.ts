/**
 * Reading what other programs stored in the OS keyring (Python keyring, secret-tool, another
 * app's keytar entries), so that a host can import existing credentials into keyward.
 * Published through `@keyward/core/drivers/keyring`.
 *
 * @module
 */
import { assertOptions } from '../guards.js'
import { redactFields } from '../sensitive.js'
import { entryToText } from './keyring-entry.js'
import {
  assertBusAnswers,
  assertSupported,
  boundedCall,
  checkEntryName,
  keyringBackend,
  type LinuxKeyringStore,
  loadKeyring,
  resolveTimeout,
} from './native-keyring.js'

/** Options of {@link readForeignEntry}. */
export interface ReadForeignEntryOptions {
  /** The service name the other program filed the entry under (Python keyring: `service`). */
  readonly service: string
  /** The account name (Python keyring: `username`; secret-tool: the `username` attribute). */
  readonly account: string
  /** Linux only: `secret-service` (default) or `keyutils`. */
  readonly store?: LinuxKeyringStore | undefined
  /** Bound of the keyring call (default 10 000 ms; then `KEYWARD_KEYRING_TIMEOUT`). */
  readonly timeoutMs?: number | undefined
}

/** An entry another program stored; `util.inspect` and `JSON.stringify` show it redacted. */
export interface ForeignEntry {
  readonly service: string
  readonly account: string
  /** The entry's bytes as the keyring holds them. */
  readonly value: Uint8Array
  /** The entry as text (UTF-8; UTF-16 on Windows, as its tools write), or `undefined` when it is not text. */
  readonly text: string | undefined
}

/**
 * Reads one entry another program stored in the OS keyring — exactly as it is, with no keyward
 * format assumed — so that a host can move users' existing credentials into keyward (for
 * example a token Python's `keyring.set_password('kiwi-mcp', 'supabase_access_token', …)`
 * wrote, into an AuthStore). `null` when there is no such entry. It never writes or deletes.
 *
 * Failures are `KeywardError`s: `KEYWARD_KEYRING_AMBIGUOUS` when several items match the
 * service and account (the message says how to remove one), `KEYWARD_KEYRING_TIMEOUT`,
 * `KEYWARD_KEYRING_UNAVAILABLE`, `KEYWARD_KEYRING_LOCKED`, `KEYWARD_MISSING_DEPENDENCY`.
 *
 * @example
 * ```ts
 * import { readForeignEntry } from '@keyward/core/drivers/keyring'
 *
 * const found = await readForeignEntry({ service: 'kiwi-mcp', account: 'supabase_access_token' })
 * if (found?.text !== undefined) {
 *   // hand found.text to your store, e.g. authStore.setToken('supabase', { accessToken: found.text })
 * }
 * ```
 */
export async function readForeignEntry(
  options: ReadForeignEntryOptions,
): Promise<ForeignEntry | null> {
  assertOptions(options, 'readForeignEntry')
  const { service, account } = options
  checkEntryName(service, 'service')
  checkEntryName(account, 'account')
  const backend = keyringBackend(options.store)
  const timeoutMs = resolveTimeout(options.timeoutMs)
  assertSupported(backend)
  const native = await loadKeyring()
  const context = { operation: 'read', service, account, backend: backend.name }
  await assertBusAnswers(backend, context, timeoutMs)
  const raw = await boundedCall(context, timeoutMs, async (signal) =>
    new native.AsyncEntry(service, account, backend.entryOptions).getSecret(signal),
  )
  if (raw === null) return null
  const value = Uint8Array.from(raw)
  const text = entryToText(value) ?? undefined
  return redactFields({ service, account, value, text }, ['value', 'text'])
}

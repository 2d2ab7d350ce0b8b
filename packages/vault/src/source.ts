import {
  assertOptions,
  KEYWARD_INVALID_ARGUMENT,
  KeywardError,
  type SecretSource,
} from '@keyward/core'
import { checkSlug } from './internal/records.js'
import type { Vault } from './types.js'
import { OpenedVault } from './vault.js'

/**
 * Options of {@link vaultSource}: which collection and environment the names are read from.
 *
 * @example
 * ```ts
 * import type { VaultSourceOptions } from '@keyward/vault'
 *
 * const options: VaultSourceOptions = { collection: 'my-saas', environment: 'prod' }
 * ```
 */
export interface VaultSourceOptions {
  /** The collection's slug. */
  readonly collection: string
  /** The environment's slug; omit to read only untagged secrets. */
  readonly environment?: string | undefined
}

/**
 * A `@keyward/core` `SecretSource` over a vault: `resolve(names)` answers each name with
 * the value `vault.resolveEnvironment` would give it — the environment's own secret or the
 * untagged one, references resolved in the environment that owns each value — all from one
 * snapshot. A name with no visible secret is absent from the map (not an error); a broken
 * reference in a requested secret fails the call with `KEYWARD_REFERENCE_UNRESOLVED` (never a
 * value), an unknown collection or environment with its `KEYWARD_VAULT_UNKNOWN_*` code. An
 * aborted `signal` rejects with its reason. This is the adapter a host passes to
 * `@keyward/sandbox` (for example as the `GLOBAL` source).
 *
 * @example
 * ```ts
 * import { openVault, vaultSource } from '@keyward/vault'
 *
 * const vault = await openVault()
 * const source = vaultSource(vault, { collection: 'my-saas', environment: 'prod' })
 * const values = await source.resolve(['DATABASE_URL', 'NOT_THERE'])
 * values.get('DATABASE_URL') // the resolved value; values.has('NOT_THERE') === false
 * ```
 */
export function vaultSource(vault: Vault, options: VaultSourceOptions): SecretSource {
  if (typeof (vault as Partial<Vault> | null)?.resolveEnvironment !== 'function')
    throw new KeywardError(
      KEYWARD_INVALID_ARGUMENT,
      'vaultSource: `vault` must be a vault from openVault',
      { details: { caller: 'vaultSource', option: 'vault' } },
    )
  assertOptions(options, 'vaultSource')
  const selector = {
    collection: checkSlug(options.collection, 'collection'),
    ...(options.environment === undefined
      ? {}
      : { environment: checkSlug(options.environment, 'environment') }),
  }
  return {
    async resolve(keys, resolveOptions) {
      if (!Array.isArray(keys) || !keys.every((key) => typeof key === 'string'))
        throw new KeywardError(
          KEYWARD_INVALID_ARGUMENT,
          'resolve: `keys` must be an array of variable names',
          { details: { caller: 'resolve', option: 'keys' } },
        )
      const signal = resolveOptions?.signal
      signal?.throwIfAborted()
      const found =
        vault instanceof OpenedVault
          ? await vault.resolveNames(selector, keys)
          : await vault.resolveEnvironment(selector)
      signal?.throwIfAborted()
      const out = new Map<string, string>()
      for (const key of keys)
        if (Object.hasOwn(found, key) && !out.has(key)) out.set(key, found[key]!)
      return out
    },
  }
}

/**
 * Stable error codes of `@keyward/sandbox`. Every error this package throws is a
 * `KeywardError` (from `@keyward/core`) with one of these codes, or core's
 * `KEYWARD_INVALID_ARGUMENT` for a bad argument or option. Messages and `details` name the
 * file, JSON path, plugin, variable, source, origin or scope at fault — never a value.
 *
 * @example
 * ```ts
 * import { KeywardError } from '@keyward/core'
 * import { KEYWARD_MANIFEST_INVALID, loadManifest } from '@keyward/sandbox'
 *
 * try {
 *   await loadManifest('./plugins/clockify')
 * } catch (error) {
 *   if (KeywardError.isInstance(error) && error.code === KEYWARD_MANIFEST_INVALID) {
 *     console.log(error.details.file, error.details.path) // '/…/permissions.json' 'env.WORKSPACE.sources[0]'
 *   }
 * }
 * ```
 * @module
 */

/** The plugin folder has no `package.json`, or the file its manifest pointer names is missing. */
export const KEYWARD_MANIFEST_NOT_FOUND = 'KEYWARD_MANIFEST_NOT_FOUND'

/**
 * A `package.json` or permissions manifest is not valid: not JSON, too large, too deep, a field
 * of the wrong shape, a path leaving the plugin folder. `details.file` and `details.path` (a
 * JSON path such as `env.WORKSPACE.sources[0]`) name the first problem; `details.issues` lists
 * up to ten.
 */
export const KEYWARD_MANIFEST_INVALID = 'KEYWARD_MANIFEST_INVALID'

/** The plugin id is not linked to this host: call `host.link(pluginDir)` first. */
export const KEYWARD_PLUGIN_NOT_LINKED = 'KEYWARD_PLUGIN_NOT_LINKED'

/**
 * A variable the plugin requires has no grant (the user declined, or it was revoked), or the
 * grant names a source the host does not supply. `details.variable` names it.
 */
export const KEYWARD_GRANT_MISSING = 'KEYWARD_GRANT_MISSING'

/**
 * A granted, required variable has no value in its granted source. `details.variable`,
 * `details.source` and `details.key` say where it was looked for; never a value.
 */
export const KEYWARD_VALUE_MISSING = 'KEYWARD_VALUE_MISSING'

/** A source (`LOCAL`, `ENV`, `GLOBAL`, `SYSTEM` or the host's own) failed; `cause` holds why. */
export const KEYWARD_SOURCE_FAILED = 'KEYWARD_SOURCE_FAILED'

/**
 * A value offered for a plugin's LOCAL store (a command's result, `host.setLocal`) was refused:
 * an undeclared key, a key such as `NODE_OPTIONS`, `LD_*` or `PATH`, or a value too large.
 * `details.key` names it; nothing was saved.
 */
export const KEYWARD_LOCAL_VALUE_REFUSED = 'KEYWARD_LOCAL_VALUE_REFUSED'

/** A plugin-scoped secret key (`ctx.secrets`) is empty, too long or not well-formed Unicode. */
export const KEYWARD_SECRET_KEY_INVALID = 'KEYWARD_SECRET_KEY_INVALID'

/**
 * The broker refused a request before sending it: its origin is not declared or granted, its
 * scheme or address is not allowed (a private address outside dev-mode loopback), or a redirect
 * pointed at another origin. `details.origin` and `details.reason` say which.
 */
export const KEYWARD_ORIGIN_DENIED = 'KEYWARD_ORIGIN_DENIED'

/** A human declined (or the host's `approve` callback refused) an action that asks for approval. */
export const KEYWARD_APPROVAL_DENIED = 'KEYWARD_APPROVAL_DENIED'

/** A brokered request failed on the network, timed out, or its response was larger than allowed. */
export const KEYWARD_BROKER_FETCH_FAILED = 'KEYWARD_BROKER_FETCH_FAILED'

/** A tool definition passed to `broker.execute` is malformed; `details.path` names the field. */
export const KEYWARD_TOOL_INVALID = 'KEYWARD_TOOL_INVALID'

/**
 * A plugin's process ended (it crashed, or was killed) while a call was running, or did not
 * start. The host and other plugins keep running; the next call starts the plugin again.
 */
export const KEYWARD_PLUGIN_CRASHED = 'KEYWARD_PLUGIN_CRASHED'

/** A plugin call ran past its time limit; its process was killed and restarts on the next call. */
export const KEYWARD_PLUGIN_TIMEOUT = 'KEYWARD_PLUGIN_TIMEOUT'

/** A plugin's process grew past its memory limit; it was killed and restarts on the next call. */
export const KEYWARD_PLUGIN_MEMORY = 'KEYWARD_PLUGIN_MEMORY'

/** The plugin's own code threw, or it has no such tool; `details.tool` names the call. */
export const KEYWARD_PLUGIN_FAILED = 'KEYWARD_PLUGIN_FAILED'

/**
 * The one place that touches `@napi-rs/keyring`: a lazy loader (the root entry and the other
 * drivers never load the native binding), the mapping of platform errors to keyward codes, and
 * the per-user lock directory that keyring writers serialise through.
 *
 * @module
 */
import { createHash } from 'node:crypto'
import { lstat, mkdir } from 'node:fs/promises'
import { tmpdir, userInfo } from 'node:os'
import { join } from 'node:path'
import type { Durability } from '../contracts.js'
import {
  KEYWARD_INVALID_ARGUMENT,
  KEYWARD_KEYRING_AMBIGUOUS,
  KEYWARD_KEYRING_ERROR,
  KEYWARD_KEYRING_LOCKED,
  KEYWARD_KEYRING_TIMEOUT,
  KEYWARD_KEYRING_UNAVAILABLE,
  KEYWARD_STORE_IO,
  KeywardError,
} from '../errors.js'
import { optionalModule } from './optional-import.js'
import { checkSessionBus, parseBusAddress } from './session-bus.js'

/** The npm package that talks to the OS keyring. */
export const KEYRING_MODULE = '@napi-rs/keyring'

/** A Linux credential store `@napi-rs/keyring` can be pinned to. */
export type LinuxKeyringStore = 'secret-service' | 'keyutils'

/** Options `@napi-rs/keyring` takes when an entry is created. */
export interface NativeEntryOptions {
  linux?: { store?: LinuxKeyringStore }
}

/** The part of `@napi-rs/keyring`'s `AsyncEntry` keyward uses. */
export interface NativeAsyncEntry {
  setPassword(password: string, signal?: AbortSignal): Promise<void>
  setSecret(secret: Uint8Array, signal?: AbortSignal): Promise<void>
  getPassword(signal?: AbortSignal): Promise<string | null>
  getSecret(signal?: AbortSignal): Promise<ArrayLike<number> | null>
  deleteCredential(signal?: AbortSignal): Promise<boolean>
}

/** The part of `@napi-rs/keyring` keyward uses (written out so that its types are not needed). */
export interface NativeKeyring {
  AsyncEntry: new (
    service: string,
    account: string,
    options?: NativeEntryOptions,
  ) => NativeAsyncEntry
  findCredentialsAsync(
    service: string,
    target?: string | null,
    signal?: AbortSignal,
  ): Promise<Array<{ account: string; password: string }>>
}

const loadOnce = optionalModule<NativeKeyring>({
  exports: ['AsyncEntry', 'findCredentialsAsync'],
  missing: (specifier) =>
    `install ${specifier} to use the OS keyring (npm install ${specifier}), or use fileDriver with passphraseKey/envKey`,
  broken: (specifier) =>
    `${specifier} is installed but its native binding for ${process.platform}-${process.arch} could not be loaded; reinstall it (npm install ${specifier}) so that npm fetches the binding for this platform`,
  wrongShape: (specifier) =>
    `${specifier} does not export AsyncEntry and findCredentialsAsync; install @napi-rs/keyring 2.x`,
})

/**
 * Imports `@napi-rs/keyring` on first use (once per process). A missing package or a missing
 * native binding for this platform is a `KEYWARD_MISSING_DEPENDENCY` error that says what to
 * install. `specifier` exists for tests of that error; callers leave it out.
 */
export function loadKeyring(specifier: string = KEYRING_MODULE): Promise<NativeKeyring> {
  return loadOnce(specifier)
}

/** Where a keyring lives: the backend name reported by drivers and probes, and its durability. */
export interface KeyringBackend {
  /** `secret-service`, `keyutils`, `macos-keychain`, `windows-credential-manager` or `unsupported`. */
  readonly name: string
  readonly durability: Durability
  /** Largest platform entry in bytes (header included), or `undefined` for no platform limit. */
  readonly entryLimitBytes: number | undefined
  /** What to pass to `@napi-rs/keyring`. */
  readonly entryOptions: NativeEntryOptions | undefined
}

/** Windows `CRED_MAX_CREDENTIAL_BLOB_SIZE`. */
export const WINDOWS_BLOB_LIMIT = 2560
/** Largest payload of a Linux kernel `user` key. */
export const KEYUTILS_PAYLOAD_LIMIT = 32767

/**
 * The backend `@napi-rs/keyring` uses on this platform. On Linux the store is always pinned
 * (Secret Service unless `store: 'keyutils'`), so that a missing Secret Service never silently
 * falls back to the kernel keyring, which forgets everything at logout.
 */
export function keyringBackend(
  store: LinuxKeyringStore | undefined,
  platform: NodeJS.Platform = process.platform,
): KeyringBackend {
  if (store !== undefined && store !== 'secret-service' && store !== 'keyutils') {
    throw new KeywardError(
      KEYWARD_INVALID_ARGUMENT,
      "option `store` must be 'secret-service' or 'keyutils'",
    )
  }
  switch (platform) {
    case 'darwin':
      return {
        name: 'macos-keychain',
        durability: 'durable',
        entryLimitBytes: undefined,
        entryOptions: undefined,
      }
    case 'win32':
      return {
        name: 'windows-credential-manager',
        durability: 'durable',
        entryLimitBytes: WINDOWS_BLOB_LIMIT,
        entryOptions: undefined,
      }
    case 'linux':
    case 'freebsd':
      if (store === 'keyutils') {
        return {
          name: 'keyutils',
          durability: 'session',
          entryLimitBytes: KEYUTILS_PAYLOAD_LIMIT,
          entryOptions: { linux: { store: 'keyutils' } },
        }
      }
      return {
        name: 'secret-service',
        durability: 'durable',
        entryLimitBytes: undefined,
        entryOptions: { linux: { store: 'secret-service' } },
      }
    default:
      return {
        name: 'unsupported',
        durability: 'session',
        entryLimitBytes: undefined,
        entryOptions: undefined,
      }
  }
}

/** Throws `KEYWARD_KEYRING_UNAVAILABLE` for a platform `@napi-rs/keyring` has no real store on. */
export function assertSupported(backend: KeyringBackend): void {
  if (backend.name === 'unsupported') {
    throw new KeywardError(
      KEYWARD_KEYRING_UNAVAILABLE,
      `the OS keyring is not supported on ${process.platform}; use fileDriver with passphraseKey/envKey`,
      { details: { backend: backend.name, platform: process.platform } },
    )
  }
}

/** What a keyring error is about, for its message. Never a secret value. */
export interface KeyringErrorContext {
  /** `read`, `write`, `delete`, `list`, `probe`. */
  readonly operation: string
  readonly service: string
  readonly account?: string
  readonly backend: string
  /** Strings that must not survive into the forwarded cause (values being written). */
  readonly secrets?: readonly string[]
}

const AMBIGUOUS = /matched by \d+ credentials|\bambiguous\b/i
const LOCKED =
  /prompt was dismissed|\block(ed)?\b|user cancel+ed|interaction is not allowed|errSecInteractionNotAllowed|errSecAuthFailed|errSecUserCanceled|-25308|-25293|-128\b|denied by the user|ERROR_CANCELLED/i
const UNAVAILABLE =
  /dbus error|zbus error|failed to connect|autolaunch|ServiceUnknown|org\.freedesktop\.DBus\.Error\.(NoReply|Spawn|NoServer|Disconnected)|no such file or directory|connection refused|not supported|no default (credential )?store|no keychain|errSecNoSuchKeychain|errSecNotAvailable|-25294|-25291|ERROR_NO_SUCH_LOGON_SESSION|AccessDenied/i

/** Keeps a platform message short and free of anything that could be secret material. */
export function scrubPlatformMessage(message: string, secrets: readonly string[] = []): string {
  let out = message
  for (const secret of secrets) {
    if (secret.length >= 4) out = out.split(secret).join('[redacted]')
  }
  // Debug-formatted byte vectors (`[107, 119, ...]`) may be a password's bytes.
  out = out.replace(/\[\s*\d{1,3}(\s*,\s*\d{1,3})+\s*,?\s*\]/g, '[bytes redacted]')
  return out.length > 300 ? `${out.slice(0, 300)}…` : out
}

function fix(code: string, backend: string, context: KeyringErrorContext): string {
  if (code === KEYWARD_KEYRING_AMBIGUOUS) {
    const names = `service ${JSON.stringify(context.service)} username ${JSON.stringify(context.account ?? '')}`
    return backend === 'secret-service'
      ? `another program (for example Python keyring) stored its own item under the same service and account, and keyward cannot tell which one is current. List them with \`secret-tool search --all ${names}\` and delete the one you do not want (in Seahorse, or by its object path); \`secret-tool clear ${names}\` deletes all of them`
      : 'another program stored its own item under the same service and account, and keyward cannot tell which one is current: delete the one you do not want in the keychain manager'
  }
  if (code === KEYWARD_KEYRING_LOCKED) {
    return backend === 'secret-service'
      ? 'unlock the login keyring (for example with Seahorse, or `gnome-keyring-daemon --unlock`) and retry'
      : 'unlock the keychain or allow access when the system asks, then retry'
  }
  if (code === KEYWARD_KEYRING_UNAVAILABLE) {
    if (backend === 'keyutils') {
      return 'run inside a kernel session keyring (`keyctl session -`) or use the Secret Service; or use fileDriver with passphraseKey/envKey'
    }
    if (backend === 'secret-service') {
      return 'start a Secret Service provider such as gnome-keyring (with DBUS_SESSION_BUS_ADDRESS set), or use fileDriver with passphraseKey/envKey'
    }
    return 'check that the OS keychain is available to this user, or use fileDriver with passphraseKey/envKey'
  }
  return 'see `cause` for the platform error; retry, or use fileDriver with passphraseKey/envKey'
}

/**
 * Turns an error thrown by `@napi-rs/keyring` into a `KeywardError`:
 * no daemon / no session bus / unsupported platform → `KEYWARD_KEYRING_UNAVAILABLE`;
 * locked keyring or a user who dismissed the prompt → `KEYWARD_KEYRING_LOCKED`;
 * anything else → `KEYWARD_KEYRING_ERROR`. The cause is a fresh `Error` holding only the
 * platform's message, scrubbed of `context.secrets` and byte lists, never the original object.
 */
export function mapKeyringError(error: unknown, context: KeyringErrorContext): KeywardError {
  if (KeywardError.isInstance(error)) return error
  const raw = String((error as Error | undefined)?.message ?? error)
  const platformMessage = scrubPlatformMessage(raw, context.secrets)
  const code = AMBIGUOUS.test(raw)
    ? KEYWARD_KEYRING_AMBIGUOUS
    : LOCKED.test(raw)
      ? KEYWARD_KEYRING_LOCKED
      : UNAVAILABLE.test(raw)
        ? KEYWARD_KEYRING_UNAVAILABLE
        : KEYWARD_KEYRING_ERROR
  const what =
    code === KEYWARD_KEYRING_AMBIGUOUS
      ? 'holds several items for one entry'
      : code === KEYWARD_KEYRING_LOCKED
        ? 'is locked or access was denied'
        : code === KEYWARD_KEYRING_UNAVAILABLE
          ? 'is not available'
          : 'failed'
  const entry = entryName(context)
  return new KeywardError(
    code,
    `the OS keyring (${context.backend}) ${what} while trying to ${context.operation} ${entry}: ${fix(code, context.backend, context)}`,
    {
      cause: new Error(platformMessage),
      details: {
        backend: context.backend,
        service: context.service,
        ...(context.account === undefined ? {} : { account: context.account }),
        operation: context.operation,
      },
    },
  )
}

/** Checks a keychain service or account name option: non-empty, at most 256 characters, no NUL. */
export function checkEntryName(value: unknown, option: string): asserts value is string {
  if (
    typeof value !== 'string' ||
    value.length === 0 ||
    value.length > 256 ||
    value.includes('\0')
  ) {
    throw new KeywardError(
      KEYWARD_INVALID_ARGUMENT,
      `option \`${option}\` must be a non-empty string of at most 256 characters without NUL`,
    )
  }
}

/** How long one keyring call may take, by default, before it fails with `KEYWARD_KEYRING_TIMEOUT`. */
export const DEFAULT_KEYRING_TIMEOUT_MS = 10_000

/** Checks a `timeoutMs` option: `undefined` gives the default. */
export function resolveTimeout(value: unknown, option = 'timeoutMs'): number {
  if (value === undefined) return DEFAULT_KEYRING_TIMEOUT_MS
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 2 ** 31 - 1) {
    throw new KeywardError(
      KEYWARD_INVALID_ARGUMENT,
      `option \`${option}\` must be a whole number of milliseconds between 1 and ${2 ** 31 - 1}`,
    )
  }
  return value
}

function entryName(context: KeyringErrorContext): string {
  return context.account === undefined
    ? `service "${context.service}"`
    : `"${context.account}" in service "${context.service}"`
}

function timeoutError(context: KeyringErrorContext, timeoutMs: number, why: string): KeywardError {
  return new KeywardError(
    KEYWARD_KEYRING_TIMEOUT,
    `the OS keyring (${context.backend}) did not answer within ${timeoutMs} ms while trying to ${context.operation} ${entryName(context)} (${why}): check that the keyring daemon (for example gnome-keyring-daemon) and the session bus in DBUS_SESSION_BUS_ADDRESS respond, or raise option \`timeoutMs\``,
    {
      details: {
        backend: context.backend,
        service: context.service,
        ...(context.account === undefined ? {} : { account: context.account }),
        operation: context.operation,
        timeoutMs,
      },
    },
  )
}

/**
 * The native binding, once the checks every keyring call makes first have passed: the platform
 * is supported, `@napi-rs/keyring` loads, and (Secret Service) the session bus answers within
 * `timeoutMs`. Failures are keyward errors naming `context`.
 */
export async function readyKeyring(
  backend: KeyringBackend,
  context: KeyringErrorContext,
  timeoutMs: number,
): Promise<NativeKeyring> {
  assertSupported(backend)
  const native = await loadKeyring()
  await assertBusAnswers(backend, context, timeoutMs)
  return native
}

/**
 * Before `@napi-rs/keyring` connects to the Secret Service: checks, within `timeoutMs`, that
 * the session bus answers. The binding connects synchronously with no timeout, so a bus that
 * accepts connections but never answers would otherwise block this whole process forever.
 * Throws `KEYWARD_KEYRING_TIMEOUT` for a silent bus; leaves unreachable buses (and other
 * platforms) to the binding, which reports them at once.
 */
export async function assertBusAnswers(
  backend: KeyringBackend,
  context: KeyringErrorContext,
  timeoutMs: number,
): Promise<void> {
  if (backend.name !== 'secret-service') return
  const address = parseBusAddress(process.env.DBUS_SESSION_BUS_ADDRESS)
  if (address === undefined) return
  const result = await checkSessionBus(address, timeoutMs)
  if (result.kind === 'silent') {
    throw timeoutError(
      context,
      timeoutMs,
      `the session bus accepted the connection but did not answer ${result.step === 'hello' ? 'Hello' : 'the handshake'}`,
    )
  }
}

/**
 * Runs one native keyring call with a deadline: `KEYWARD_KEYRING_TIMEOUT` when it does not
 * settle within `timeoutMs` (the native call is asked to abort), and platform errors mapped by
 * {@link mapKeyringError}.
 */
export async function boundedCall<T>(
  context: KeyringErrorContext,
  timeoutMs: number,
  fn: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const controller = new AbortController()
  let timer: ReturnType<typeof setTimeout> | undefined
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(timeoutError(context, timeoutMs, 'no answer'))
      controller.abort()
    }, timeoutMs)
  })
  try {
    return await Promise.race([fn(controller.signal), deadline])
  } catch (error) {
    throw mapKeyringError(error, context)
  } finally {
    clearTimeout(timer)
  }
}

/**
 * The directory lock files of keyring writers live in: `$XDG_RUNTIME_DIR/keyward` when set,
 * else `<tmpdir>/keyward-<uid>`.
 */
export function defaultLockDir(): string {
  const runtime = process.env.XDG_RUNTIME_DIR
  if (runtime) return join(runtime, 'keyward')
  const uid = typeof process.getuid === 'function' ? String(process.getuid()) : userInfo().username
  return join(tmpdir(), `keyward-${uid.replace(/[^A-Za-z0-9_.-]/g, '_')}`)
}

/**
 * Creates `dir` (mode 0700) and checks that it belongs to this user and is private, so that
 * another user of a shared `/tmp` cannot pre-create it and interfere with the locks.
 */
export async function ensureLockDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 })
    const info = await lstat(dir)
    if (!info.isDirectory()) throw new Error('not a directory')
    if (typeof process.getuid === 'function') {
      if (info.uid !== process.getuid()) throw new Error('owned by another user')
      if ((info.mode & 0o077) !== 0) throw new Error('readable or writable by other users')
    }
  } catch (error) {
    throw new KeywardError(
      KEYWARD_STORE_IO,
      `cannot use "${dir}" as the keyring lock directory (${(error as Error).message}); pass option \`lockDir\` with a private directory of this user`,
      { cause: error, details: { path: dir } },
    )
  }
}

/** A lock file name for `parts` (hashed: service and key names may hold any character). */
export function lockFileName(kind: string, ...parts: string[]): string {
  const hash = createHash('sha256').update(parts.join('\0')).digest('hex').slice(0, 40)
  return `${kind}-${hash}.lock`
}

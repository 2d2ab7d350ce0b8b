import { spawn } from 'node:child_process'
import type { Writable } from 'node:stream'
import { finished } from 'node:stream/promises'
import { assertOptions, KEYWARD_INVALID_ARGUMENT, KeywardError, type Logger } from '@keyward/core'
import { createRedactor, KEYWARD_VALUE_UNMASKABLE } from '@keyward/templating'
import {
  KEYWARD_VAULT_SPAWN_FAILED,
  KEYWARD_VAULT_UNREPRESENTABLE,
  KEYWARD_VAULT_UNSAFE_NAME,
} from './errors.js'
import { argument } from './internal/argument.js'

/**
 * Options of `vault.run`.
 *
 * @example
 * ```ts
 * import type { RunOptions } from '@keyward/vault'
 *
 * const options: RunOptions = { collection: 'my-saas', environment: 'dev', command: 'npm', args: ['start'] }
 * ```
 */
export interface RunOptions {
  /** The collection's slug. */
  readonly collection: string
  /** The environment's slug; omit to inject only untagged secrets. */
  readonly environment?: string | undefined
  /** The program to run (looked up on `PATH`; no shell). */
  readonly command: string
  readonly args?: readonly string[] | undefined
  /**
   * Pass the child's stdout/stderr through a redactor that replaces every injected value (and
   * its common encodings) with its reference (default true). `false` gives the child the
   * terminal itself (TTY passthrough), unmasked.
   */
  readonly mask?: boolean | undefined
  readonly cwd?: string | undefined
  /** The environment the secrets are added to (default `process.env`). */
  readonly env?: Readonly<Record<string, string | undefined>> | undefined
  /** Where masked stdout goes (default `process.stdout`). */
  readonly stdout?: Writable | undefined
  /** Where masked stderr goes (default `process.stderr`). */
  readonly stderr?: Writable | undefined
  /**
   * Secret names `run` may inject although they change which program runs or what code it
   * loads (`PATH`, `NODE_OPTIONS`, `LD_*`, `DYLD_*`, `BASH_FUNC_*`, interpreter option
   * variables…). Without this, such a secret fails the call with `KEYWARD_VAULT_UNSAFE_NAME`
   * before anything runs.
   */
  readonly allowUnsafeNames?: readonly string[] | undefined
  /**
   * Secret names whose values may be injected although masking cannot hide them in the child's
   * output (shorter than the redactor's minimum, or a common word or short number such as a
   * 6-digit PIN). Without this, with `mask` on, such a secret fails the call with
   * `KEYWARD_VALUE_UNMASKABLE` before anything runs: masked output never silently shows one.
   */
  readonly allowUnmasked?: readonly string[] | undefined
}

/**
 * How the child ended: its exit code, or the signal that killed it.
 *
 * @example
 * ```ts
 * import { openVault, type RunResult } from '@keyward/vault'
 *
 * const vault = await openVault()
 * const result: RunResult = await vault.run({ collection: 'my-saas', environment: 'dev', command: 'node', args: ['server.js'] })
 * process.exitCode = result.exitCode ?? 1
 * ```
 */
export interface RunResult {
  readonly exitCode: number | null
  readonly signal: NodeJS.Signals | null
}

const FORWARDED: NodeJS.Signals[] =
  process.platform === 'win32'
    ? ['SIGINT', 'SIGTERM', 'SIGBREAK' as NodeJS.Signals]
    : ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH']

/**
 * Names a secret may not be injected under unless `allowUnsafeNames` lists it: variables that
 * change which program runs or what code it loads (`NODE_OPTIONS=--require …`, `LD_PRELOAD`,
 * `PATH`, shell start-up files, exported bash functions…).
 */
const UNSAFE_NAMES = new Set([
  'PATH',
  'NODE_OPTIONS',
  'NODE_PATH',
  'NODE_EXTRA_CA_CERTS',
  'NODE_TLS_REJECT_UNAUTHORIZED',
  'NODE_REPL_EXTERNAL_MODULE',
  'BASH_ENV',
  'ENV',
  'SHELLOPTS',
  'BASHOPTS',
  'IFS',
  'PS4',
  'PROMPT_COMMAND',
  'CDPATH',
  'GCONV_PATH',
  'HOSTALIASES',
  'LOCALDOMAIN',
  'RES_OPTIONS',
  'PYTHONPATH',
  'PYTHONHOME',
  'PYTHONSTARTUP',
  'PERL5OPT',
  'PERL5LIB',
  'PERLLIB',
  'RUBYOPT',
  'RUBYLIB',
  'JAVA_TOOL_OPTIONS',
  '_JAVA_OPTIONS',
  'JDK_JAVA_OPTIONS',
  'GIT_SSH_COMMAND',
  'GIT_EXEC_PATH',
  'GIT_CONFIG_GLOBAL',
  'GIT_CONFIG_SYSTEM',
])
const UNSAFE_PREFIXES = ['LD_', 'DYLD_', 'BASH_FUNC_']

/** Whether `vault.run` refuses to inject a secret under this name unless allowed by name. */
export function isUnsafeName(name: string): boolean {
  const upper = name.toUpperCase()
  return UNSAFE_NAMES.has(upper) || UNSAFE_PREFIXES.some((prefix) => upper.startsWith(prefix))
}

const isText = (value: unknown): value is string =>
  typeof value === 'string' && !value.includes('\0')

/** Validates run options once, before anything is resolved. */
export function checkRunOptions(options: RunOptions): void {
  assertOptions(options, 'run')
  if (!isText(options.command) || options.command === '')
    throw argument('option `command` must be a non-empty string')
  if (
    options.args !== undefined &&
    (!Array.isArray(options.args) || !options.args.every((a) => typeof a === 'string'))
  )
    throw argument('option `args` must be an array of strings')
  if (options.args?.some((a) => a.includes('\0')))
    throw argument(
      'option `args`: an argument contains a NUL character, which no program can receive',
    )
  if (options.mask !== undefined && typeof options.mask !== 'boolean')
    throw argument('option `mask` must be a boolean')
  if (options.cwd !== undefined && !isText(options.cwd))
    throw argument('option `cwd` must be a directory path')
  if (options.env !== undefined) {
    if (typeof options.env !== 'object' || options.env === null)
      throw argument('option `env` must be an object of strings')
    for (const [name, value] of Object.entries(options.env))
      if (name.includes('\0') || name.includes('=') || (value !== undefined && !isText(value)))
        throw new KeywardError(
          KEYWARD_INVALID_ARGUMENT,
          `option \`env\`: variable ${JSON.stringify(name.replace(/\0/g, '\\0').slice(0, 100))} must be a string without NUL (and a name without = or NUL)`,
          { details: { option: 'env' } },
        )
  }
  for (const option of ['allowUnsafeNames', 'allowUnmasked'] as const) {
    const allowed = options[option]
    if (
      allowed !== undefined &&
      (!Array.isArray(allowed) || !allowed.every((name) => typeof name === 'string'))
    )
      throw argument(`option \`${option}\` must be an array of variable names`)
  }
}

/**
 * Checks the secrets about to be injected: no name that changes how the child starts unless
 * allowed by name, no value a process environment cannot hold. Never quotes a value.
 */
export function checkInjected(
  options: RunOptions,
  secrets: Readonly<Record<string, string>>,
  where: { readonly collection: string; readonly environment: string | null },
): void {
  const allowed = new Set(options.allowUnsafeNames ?? [])
  for (const [name, value] of Object.entries(secrets)) {
    if (isUnsafeName(name) && !allowed.has(name))
      throw new KeywardError(
        KEYWARD_VAULT_UNSAFE_NAME,
        `refusing to inject secret ${name} (in ${where.collection}/${where.environment ?? '(untagged)'}): a variable of that name changes which program runs or what code it loads; rename the secret, or pass allowUnsafeNames: ['${name}'] if this is intended`,
        { details: { ...where, name } },
      )
    if (value.includes('\0'))
      throw new KeywardError(
        KEYWARD_VAULT_UNREPRESENTABLE,
        `the value of ${name} (in ${where.collection}/${where.environment ?? '(untagged)'}) contains a NUL character, which a process environment cannot hold; nothing was run`,
        { details: { ...where, name } },
      )
  }
  const unmaskable = options.mask === false ? [] : unmaskableSecrets(options, secrets)
  if (unmaskable.length > 0) {
    const names = unmaskable.map((u) => u.raw)
    throw new KeywardError(
      KEYWARD_VALUE_UNMASKABLE,
      `cannot mask ${names.join(', ')} (in ${where.collection}/${where.environment ?? '(untagged)'}) in the child's output: the value is too short or too common to find safely; nothing was run. Pass allowUnmasked: ${JSON.stringify(names)} to run anyway, or mask: false`,
      { details: { references: unmaskable } },
    )
  }
}

/** The injected secrets the output redactor could not mask, by name; never their values. */
function unmaskableSecrets(options: RunOptions, secrets: Readonly<Record<string, string>>) {
  const allowed = new Set(options.allowUnmasked ?? [])
  const probe = createRedactor([])
  const out: { raw: string; reason: 'too_short' | 'common'; length: number; minLength: number }[] =
    []
  for (const [name, value] of Object.entries(secrets)) {
    const reason = allowed.has(name) ? undefined : probe.check(value)
    if (reason !== undefined)
      out.push({ raw: name, reason, length: value.length, minLength: probe.minLength })
  }
  return out
}

/**
 * Spawns the child with `secrets` in its environment and waits for it. `options` were
 * checked by {@link checkRunOptions} and `secrets` by {@link checkInjected}.
 */
export async function runChild(
  options: RunOptions,
  secrets: Readonly<Record<string, string>>,
  values: readonly { value: string; label: string }[],
  logger: Logger,
): Promise<RunResult> {
  const mask = options.mask ?? true
  const env = { ...(options.env ?? process.env), ...secrets }
  const stdout = options.stdout ?? process.stdout
  const stderr = options.stderr ?? process.stderr
  const piped = mask || options.stdout !== undefined || options.stderr !== undefined
  let child: ReturnType<typeof spawn>
  try {
    child = spawn(options.command, [...(options.args ?? [])], {
      env,
      cwd: options.cwd,
      stdio: piped ? ['inherit', 'pipe', 'pipe'] : 'inherit',
      windowsHide: true,
    })
  } catch (error) {
    // Node's argument errors quote the offending input (which may be a secret): never the
    // error itself as cause, only its code.
    const code = (error as { code?: unknown }).code
    throw new KeywardError(
      KEYWARD_VAULT_SPAWN_FAILED,
      `cannot run "${options.command}" (${typeof code === 'string' ? code : 'error'}): Node refused the command, its arguments or its environment`,
      { details: { command: options.command, errno: typeof code === 'string' ? code : undefined } },
    )
  }
  const forward = new Map<NodeJS.Signals, () => void>()
  for (const signal of FORWARDED) {
    const handler = () => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
    }
    forward.set(signal, handler)
    process.on(signal, handler)
  }
  const flushed: Promise<unknown>[] = []
  if (piped && child.stdout && child.stderr) {
    if (mask) {
      const redactor = createRedactor(values, { logger })
      for (const [from, to] of [
        [child.stdout, stdout],
        [child.stderr, stderr],
      ] as const) {
        const transform = redactor.nodeTransform()
        from.pipe(transform)
        transform.pipe(to, { end: false })
        flushed.push(finished(transform, { writable: false }).catch(() => {}))
      }
    } else {
      child.stdout.pipe(stdout, { end: false })
      child.stderr.pipe(stderr, { end: false })
      flushed.push(
        finished(child.stdout).catch(() => {}),
        finished(child.stderr).catch(() => {}),
      )
    }
  }
  try {
    const result = await new Promise<RunResult>((resolve, reject) => {
      child.once('error', (error: NodeJS.ErrnoException) => {
        reject(
          new KeywardError(
            KEYWARD_VAULT_SPAWN_FAILED,
            `cannot run "${options.command}" (${error.code ?? 'error'}): check that it is installed and on PATH`,
            // Not the error as cause: its `spawnargs` hold the arguments.
            { details: { command: options.command, errno: error.code } },
          ),
        )
      })
      child.once('close', (exitCode, signal) => resolve({ exitCode, signal }))
    })
    await Promise.all(flushed)
    return result
  } finally {
    for (const [signal, handler] of forward) process.off(signal, handler)
  }
}

import { spawn } from 'node:child_process'
import type { Writable } from 'node:stream'
import { finished } from 'node:stream/promises'
import { KEYWARD_INVALID_ARGUMENT, KeywardError, type Logger } from '@keyward/core'
import { createRedactor } from '@keyward/templating'
import { KEYWARD_VAULT_SPAWN_FAILED } from './errors.js'

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
  readonly environment?: string
  /** The program to run (looked up on `PATH`; no shell). */
  readonly command: string
  readonly args?: readonly string[]
  /**
   * Pass the child's stdout/stderr through a redactor that replaces every injected value (and
   * its common encodings) with its reference (default true). `false` gives the child the
   * terminal itself (TTY passthrough), unmasked.
   */
  readonly mask?: boolean
  readonly cwd?: string
  /** The environment the secrets are added to (default `process.env`). */
  readonly env?: Readonly<Record<string, string | undefined>>
  /** Where masked stdout goes (default `process.stdout`). */
  readonly stdout?: Writable
  /** Where masked stderr goes (default `process.stderr`). */
  readonly stderr?: Writable
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

/** @internal Validates run options before anything is resolved. */
export function _checkRun(options: RunOptions): void {
  if (
    typeof options.command !== 'string' ||
    options.command === '' ||
    options.command.includes('\0')
  )
    throw new KeywardError(KEYWARD_INVALID_ARGUMENT, 'option `command` must be a non-empty string')
  if (
    options.args !== undefined &&
    (!Array.isArray(options.args) || !options.args.every((a) => typeof a === 'string'))
  )
    throw new KeywardError(KEYWARD_INVALID_ARGUMENT, 'option `args` must be an array of strings')
  if (options.mask !== undefined && typeof options.mask !== 'boolean')
    throw new KeywardError(KEYWARD_INVALID_ARGUMENT, 'option `mask` must be a boolean')
}

/** @internal Spawns the child with `secrets` in its environment and waits for it. */
export async function _runChild(
  options: RunOptions,
  secrets: Readonly<Record<string, string>>,
  values: readonly { value: string; label: string }[],
  logger: Logger,
): Promise<RunResult> {
  _checkRun(options)
  const mask = options.mask ?? true
  const env = { ...(options.env ?? process.env), ...secrets }
  const stdout = options.stdout ?? process.stdout
  const stderr = options.stderr ?? process.stderr
  const piped = mask || options.stdout !== undefined || options.stderr !== undefined
  const child = spawn(options.command, [...(options.args ?? [])], {
    env,
    cwd: options.cwd,
    stdio: piped ? ['inherit', 'pipe', 'pipe'] : 'inherit',
    windowsHide: true,
  })
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
            { cause: error, details: { command: options.command, errno: error.code } },
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

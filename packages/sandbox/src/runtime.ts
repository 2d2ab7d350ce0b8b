import { type ChildProcess, fork } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { KEYWARD_INVALID_ARGUMENT, KeywardError } from '@keyward/core'
import {
  KEYWARD_PLUGIN_CRASHED,
  KEYWARD_PLUGIN_FAILED,
  KEYWARD_PLUGIN_MEMORY,
  KEYWARD_PLUGIN_TIMEOUT,
} from './errors.js'
import type { ChildMessage, HostMessage } from './internal/protocol.js'

/** How long past its deadline an isolated call may run before the host kills its process. */
const HARD_DEADLINE_GRACE_MS = 1_000

/** Options of `host.start`. */
export interface StartOptions {
  /**
   * `isolated` (default): plugin code runs inside a QuickJS context in the child, whose only
   * capabilities are `ctx.fetch`, `ctx.secrets` and `ctx.log`. `node`: plugin code runs
   * directly in the restricted child (Node APIs available; weaker guarantees, see the threat
   * model).
   */
  tier?: 'isolated' | 'node' | undefined
  /** Wall-clock limit of one call (and of start-up), in ms (default 10 000): the process is killed past it. */
  callTimeoutMs?: number | undefined
  /** Memory limit in MiB (default 256): the child's heap cap and its RSS watchdog limit. */
  memoryMiB?: number | undefined
}

/** A running plugin. */
export interface PluginProcess {
  readonly id: string
  readonly tier: 'isolated' | 'node'
  /** The child's pid while it runs. */
  readonly pid: number | undefined
  /** Calls a tool returned by the plugin's `main(env, ctx)`; arguments and result are JSON. */
  call(name: string, ...args: unknown[]): Promise<unknown>
  /** Kills the process now; the next call starts it again (with fresh grants). */
  restart(): void
  /** Stops the plugin for good. */
  stop(): Promise<void>
}

/** What the runtime asks of the host. */
export interface RuntimeHooks {
  /** The plugin's main module and folder (real paths). */
  readonly main: string
  readonly dir: string
  /** Resolves the plugin's env for a new process. */
  resolveEnv(): Promise<Readonly<Record<string, string>>>
  /** Serves a capability request from plugin code; returns its JSON answer. */
  op(tool: string, op: 'fetch' | 'secrets' | 'log', payload: string): Promise<string>
  /** Called when the plugin stops for good; `stop()` returns once this settles. */
  stopped(process: PluginProcess): void | Promise<void>
}

/** The permission flag of this Node version: `--experimental-permission` before 22.13 / 23.5. */
export function permissionFlag(version = process.versions.node): string {
  const [major = 0, minor = 0] = version.split('.').map(Number)
  const stable = major >= 24 || (major === 23 && minor >= 5) || (major === 22 && minor >= 13)
  return stable ? '--permission' : '--experimental-permission'
}

/** The runner script: beside this module in `dist`, or the built one when running from `src`. */
function runnerPath(): string {
  const here = new URL('./runner.js', import.meta.url)
  if (existsSync(here)) return fileURLToPath(here)
  return fileURLToPath(new URL('../dist/runner.js', import.meta.url))
}

/** Directories the child must read to load the runtime: the runner and the QuickJS packages. */
function runtimeReadPaths(runner: string): string[] {
  const packageDir = (from: string, name: string): string | undefined => {
    try {
      const entry = createRequire(from).resolve(name)
      const marker = `${sep}node_modules${sep}${name.split('/').join(sep)}${sep}`
      const at = entry.lastIndexOf(marker)
      return at === -1 ? undefined : entry.slice(0, at + marker.length - 1)
    } catch {
      return undefined // an optional variant that is not installed is never loaded
    }
  }
  const base = packageDir(runner, 'quickjs-emscripten')
  const dirs = [dirname(runner)]
  if (base === undefined) return dirs
  dirs.push(base)
  for (const name of [
    'quickjs-emscripten-core',
    '@jitl/quickjs-ffi-types',
    '@jitl/quickjs-wasmfile-release-sync',
    '@jitl/quickjs-wasmfile-release-asyncify',
    '@jitl/quickjs-wasmfile-debug-sync',
    '@jitl/quickjs-wasmfile-debug-asyncify',
  ]) {
    const dir = packageDir(`${base}${sep}`, name)
    if (dir !== undefined) dirs.push(dir)
  }
  return dirs
}

function rssBytes(pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    const kb = /VmRSS:\s+(\d+)/.exec(status)?.[1]
    return kb === undefined ? undefined : Number(kb) * 1024
  } catch {
    return undefined
  }
}

interface Live {
  readonly child: ChildProcess
  readonly ready: Promise<void>
  readonly calls: Map<
    number,
    { resolve(value: unknown): void; reject(error: unknown): void; name: string }
  >
  reason: 'timeout' | 'memory' | 'stopped' | undefined
}

/**
 * Starts a plugin process on demand (the first call), one per plugin: an empty environment, the
 * permission model with read access to the runtime and the plugin's folder only, a heap cap,
 * an RSS watchdog and a wall-clock kill per call. A killed or crashed plugin starts again on
 * its next call.
 */
export function startPluginProcess(
  id: string,
  hooks: RuntimeHooks,
  options: StartOptions = {},
): PluginProcess {
  const tier = options.tier ?? 'isolated'
  if (tier !== 'isolated' && tier !== 'node')
    throw new KeywardError(KEYWARD_INVALID_ARGUMENT, "option `tier` must be 'isolated' or 'node'")
  const callTimeoutMs = options.callTimeoutMs ?? 10_000
  const memoryMiB = options.memoryMiB ?? 256
  if (!Number.isFinite(callTimeoutMs) || callTimeoutMs <= 0)
    throw new KeywardError(
      KEYWARD_INVALID_ARGUMENT,
      'option `callTimeoutMs` must be a positive number',
    )
  if (!Number.isInteger(memoryMiB) || memoryMiB < 32)
    throw new KeywardError(
      KEYWARD_INVALID_ARGUMENT,
      'option `memoryMiB` must be an integer of at least 32',
    )
  const runner = runnerPath()
  let live: Live | undefined
  let stopped = false
  let nextId = 1

  function fail(
    code:
      | typeof KEYWARD_PLUGIN_CRASHED
      | typeof KEYWARD_PLUGIN_TIMEOUT
      | typeof KEYWARD_PLUGIN_MEMORY,
    tool: string,
  ): KeywardError {
    const what = {
      [KEYWARD_PLUGIN_CRASHED]: 'its process ended',
      [KEYWARD_PLUGIN_TIMEOUT]: `it ran past ${callTimeoutMs} ms and was killed`,
      [KEYWARD_PLUGIN_MEMORY]: `it grew past ${memoryMiB} MiB and was killed`,
    }[code]
    return new KeywardError(
      code,
      `plugin "${id}" ${tool ? `call ${tool}` : 'start-up'} failed: ${what}; it starts again on its next call`,
      {
        details: { plugin: id, tool },
      },
    )
  }

  function spawn(): Live {
    const reads =
      tier === 'isolated'
        ? [...runtimeReadPaths(runner), hooks.main]
        : [...runtimeReadPaths(runner), hooks.dir]
    const child = fork(runner, [], {
      env: {},
      execArgv: [
        permissionFlag(),
        ...reads.map((path) => `--allow-fs-read=${path}`),
        `--max-old-space-size=${memoryMiB}`,
        '--disable-proto=throw',
      ],
      stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
      serialization: 'json',
    })
    const calls: Live['calls'] = new Map()
    let readyResolve!: () => void
    let readyReject!: (error: unknown) => void
    const ready = new Promise<void>((resolve, reject) => {
      readyResolve = resolve
      readyReject = reject
    })
    const state: Live = { child, ready, calls, reason: undefined }
    const kill = (reason: Live['reason']) => {
      state.reason ??= reason
      child.kill('SIGKILL')
    }
    const startTimer = setTimeout(() => kill('timeout'), callTimeoutMs * 3)
    const watchdog = setInterval(() => {
      const rss = child.pid === undefined ? undefined : rssBytes(child.pid)
      if (rss !== undefined && rss > (memoryMiB + 128) * 1024 * 1024) kill('memory')
    }, 50)
    child.on('message', (message: ChildMessage) => {
      if (message.t === 'ready') {
        clearTimeout(startTimer)
        readyResolve()
      } else if (message.t === 'failed') {
        clearTimeout(startTimer)
        readyReject(
          new KeywardError(
            KEYWARD_PLUGIN_FAILED,
            `plugin "${id}" failed to start: ${message.message.slice(0, 500)}`,
            { details: { plugin: id } },
          ),
        )
        kill('stopped')
      } else if (message.t === 'result') {
        const call = calls.get(message.id)
        calls.delete(message.id)
        if (call === undefined) return
        if (message.ok) call.resolve(JSON.parse(message.value))
        else
          call.reject(
            new KeywardError(
              KEYWARD_PLUGIN_FAILED,
              `plugin "${id}" call ${call.name} threw: ${message.value.slice(0, 500)}`,
              {
                details: { plugin: id, tool: call.name },
              },
            ),
          )
      } else if (message.t === 'timeout') {
        // The call stays pending: the exit handler rejects it as a timeout and the next call starts afresh.
        kill('timeout')
      } else if (message.t === 'op') {
        hooks.op(message.tool, message.op, message.payload).then(
          (value) =>
            child.connected &&
            child.send({ t: 'answer', id: message.id, ok: true, value } satisfies HostMessage),
          (error: unknown) =>
            child.connected &&
            child.send({
              t: 'answer',
              id: message.id,
              ok: false,
              value: error instanceof Error ? error.message : 'refused',
            } satisfies HostMessage),
        )
      }
    })
    child.on('exit', () => {
      clearTimeout(startTimer)
      clearInterval(watchdog)
      const code =
        state.reason === 'timeout'
          ? KEYWARD_PLUGIN_TIMEOUT
          : state.reason === 'memory'
            ? KEYWARD_PLUGIN_MEMORY
            : KEYWARD_PLUGIN_CRASHED
      readyReject(fail(code, ''))
      for (const call of calls.values()) call.reject(fail(code, call.name))
      calls.clear()
      if (live === state) live = undefined
    })
    child.on('error', () => kill('stopped'))
    ready.catch(() => {})
    return state
  }

  async function ensure(): Promise<Live> {
    if (live !== undefined) {
      await live.ready
      return live
    }
    const env = await hooks.resolveEnv()
    const state = spawn()
    live = state
    state.child.send({
      t: 'init',
      tier,
      main: hooks.main,
      env,
      memoryBytes: memoryMiB * 1024 * 1024,
      callTimeoutMs,
    } satisfies HostMessage)
    await state.ready
    return state
  }

  const plugin: PluginProcess = {
    id,
    tier,
    get pid() {
      return live?.child.pid
    },
    async call(name: string, ...args: unknown[]): Promise<unknown> {
      if (stopped)
        throw new KeywardError(
          KEYWARD_INVALID_ARGUMENT,
          `plugin "${id}" was stopped; start it again`,
        )
      if (typeof name !== 'string' || name === '')
        throw new KeywardError(KEYWARD_INVALID_ARGUMENT, 'a tool name is a non-empty string')
      const argsJson = JSON.stringify(args)
      const state = await ensure()
      const id_ = nextId++
      return new Promise((resolve, reject) => {
        // In the isolated tier QuickJS stops the call itself at `callTimeoutMs` (reported as a
        // timeout); this timer is the hard backstop for code QuickJS cannot interrupt.
        const timer = setTimeout(
          () => {
            state.reason ??= 'timeout'
            state.child.kill('SIGKILL')
          },
          tier === 'isolated' ? callTimeoutMs + HARD_DEADLINE_GRACE_MS : callTimeoutMs,
        )
        state.calls.set(id_, {
          name,
          resolve: (value) => {
            clearTimeout(timer)
            resolve(value)
          },
          reject: (error) => {
            clearTimeout(timer)
            reject(error)
          },
        })
        state.child.send({ t: 'call', id: id_, name, args: argsJson } satisfies HostMessage)
      })
    },
    restart() {
      const state = live
      if (state !== undefined) {
        live = undefined
        state.reason ??= 'stopped'
        state.child.kill('SIGKILL')
      }
    },
    async stop() {
      stopped = true
      const state = live
      if (state !== undefined) {
        state.reason ??= 'stopped'
        const exited = new Promise((resolve) => state.child.once('exit', resolve))
        state.child.kill('SIGKILL')
        await exited
      }
      await hooks.stopped(plugin)
    },
  }
  return Object.freeze(plugin)
}

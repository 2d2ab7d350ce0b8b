/**
 * The plugin child process (not a public entry point): started by the host with an empty
 * environment and the Node permission model, it receives the plugin's granted env over IPC and
 * runs the plugin — by default inside a QuickJS context whose only capabilities are
 * `ctx.fetch`, `ctx.secrets` and `ctx.log`, each a message to the host.
 *
 * @module
 */
import { readFileSync } from 'node:fs'
import { pathToFileURL } from 'node:url'
import type { QuickJSHandle, VmCallResult } from 'quickjs-emscripten'
import type { ChildMessage, HostMessage, InitMessage } from './internal/protocol.js'

type Pending = { resolve: (value: string) => void; reject: (error: Error) => void }
const pending = new Map<number, Pending>()
let nextId = 1
let currentTool = ''

function send(message: ChildMessage): void {
  process.send?.(message)
}

/** Asks the host for a capability (`fetch`, `secrets`, `log`); resolves with its JSON answer. */
function request(op: 'fetch' | 'secrets' | 'log', payload: string): Promise<string> {
  const id = nextId++
  return new Promise<string>((resolve, reject) => {
    pending.set(id, { resolve, reject })
    send({ t: 'op', id, op, payload, tool: currentTool })
  })
}

const PRELUDE = `
globalThis.__ctx = (() => {
  const call = globalThis.__host
  delete globalThis.__host
  const ask = (op, payload) => call(op, JSON.stringify(payload)).then((text) => JSON.parse(text))
  const fetch = async (url, init) => {
    init = init ?? {}
    const body = init.body === undefined || typeof init.body === 'string' ? init.body : JSON.stringify(init.body)
    const r = await ask('fetch', { url: String(url), method: init.method, headers: init.headers, body })
    return Object.freeze({ status: r.status, ok: r.status >= 200 && r.status < 300, headers: r.headers,
      text: async () => r.body, json: async () => JSON.parse(r.body) })
  }
  const secrets = Object.freeze({
    get: (key) => ask('secrets', { op: 'get', key }),
    set: (key, value) => ask('secrets', { op: 'set', key, value }),
    has: (key) => ask('secrets', { op: 'has', key }),
    delete: (key) => ask('secrets', { op: 'delete', key }),
  })
  const log = (...args) => { call('log', JSON.stringify(args.map((a) => String(a)))) }
  return Object.freeze({ fetch, secrets, log })
})()
`

interface Engine {
  call(name: string, argsJson: string): Promise<string>
}

async function isolated(
  init: InitMessage,
  source: string,
): Promise<{ engine: Engine; tools: string[] }> {
  const { getQuickJS } = await import('quickjs-emscripten')
  const QuickJS = await getQuickJS()
  const runtime = QuickJS.newRuntime()
  runtime.setMemoryLimit(init.memoryBytes)
  runtime.setMaxStackSize(512 * 1024)
  let deadline = Number.POSITIVE_INFINITY
  let interrupted = false
  runtime.setInterruptHandler(() => {
    if (Date.now() <= deadline) return false
    interrupted = true
    return true
  })
  const vm = runtime.newContext()
  const pump = () => {
    runtime.executePendingJobs()
  }
  const host = vm.newFunction('__host', (opHandle, payloadHandle) => {
    const op = vm.getString(opHandle) as 'fetch' | 'secrets' | 'log'
    const payload = vm.getString(payloadHandle)
    const deferred = vm.newPromise()
    request(op, payload).then(
      (text) => {
        const value = vm.newString(text)
        deferred.resolve(value)
        value.dispose()
      },
      (error: Error) => {
        const value = vm.newError({ name: 'Error', message: error.message })
        deferred.reject(value)
        value.dispose()
      },
    )
    deferred.settled.then(pump)
    return deferred.handle
  })
  vm.setProp(vm.global, '__host', host)
  host.dispose()
  vm.unwrapResult(vm.evalCode(PRELUDE, 'keyward-prelude.js')).dispose()

  /** Runs `start` (code that gives a promise of a string), pumping jobs until it settles. */
  async function settle(
    start: () => VmCallResult<QuickJSHandle>,
    timeoutMs: number,
  ): Promise<string> {
    deadline = Date.now() + timeoutMs
    interrupted = false
    try {
      const handle = vm.unwrapResult(start())
      const settled = vm.resolvePromise(handle)
      handle.dispose()
      pump()
      const value = vm.unwrapResult(await settled)
      const text = vm.typeof(value) === 'string' ? vm.getString(value) : 'null'
      value.dispose()
      return text
    } catch (error) {
      // QuickJS's own deadline stopped the code: that is a timeout, whichever side saw it first.
      if (interrupted) throw new DeadlineError()
      throw error
    } finally {
      deadline = Number.POSITIVE_INFINITY
    }
  }

  const exports = vm.unwrapResult(vm.evalCode(source, 'plugin.js', { type: 'module' }))
  const state = vm.getPromiseState(exports)
  const namespace = state.type === 'fulfilled' ? state.value : exports
  if (state.type === 'rejected') throw new Error('the plugin module failed to load')
  const main = vm.getProp(namespace, 'default')
  vm.setProp(vm.global, '__main', main)
  main.dispose()
  if (namespace !== exports) namespace.dispose()
  exports.dispose()
  vm.setProp(vm.global, '__envJson', vm.newString(JSON.stringify(init.env)))
  const names = await settle(
    () =>
      vm.evalCode(
        `(async () => {
      if (typeof globalThis.__main !== 'function') throw new Error('the plugin must export default function main(env, ctx)')
      const env = Object.freeze(JSON.parse(globalThis.__envJson)); delete globalThis.__envJson
      const main = globalThis.__main; delete globalThis.__main
      const tools = await main(env, globalThis.__ctx)
      globalThis.__tools = tools
      return JSON.stringify(Object.keys(tools ?? {}).filter((k) => typeof tools[k] === 'function'))
    })()`,
        'keyward-main.js',
      ),
    init.callTimeoutMs,
  )
  // Compiled once: a call passes its tool name and arguments as strings instead of compiling code.
  const dispatch = vm.unwrapResult(
    vm.evalCode(
      `(async (name, argsJson) => {
        const tools = globalThis.__tools
        if (!Object.prototype.hasOwnProperty.call(tools, name) || typeof tools[name] !== 'function') throw new Error('no tool ' + name)
        const result = await tools[name](...JSON.parse(argsJson))
        return JSON.stringify(result === undefined ? null : result)
      })`,
      'keyward-call.js',
    ),
  )
  return {
    tools: JSON.parse(names) as string[],
    engine: {
      call: (name, argsJson) =>
        settle(() => {
          const nameHandle = vm.newString(name)
          const argsHandle = vm.newString(argsJson)
          try {
            return vm.callFunction(dispatch, vm.undefined, nameHandle, argsHandle)
          } finally {
            nameHandle.dispose()
            argsHandle.dispose()
          }
        }, init.callTimeoutMs),
    },
  }
}

async function nodeTier(init: InitMessage): Promise<{ engine: Engine; tools: string[] }> {
  const ask = async (op: 'fetch' | 'secrets', payload: unknown) =>
    JSON.parse(await request(op, JSON.stringify(payload)))
  const ctx = Object.freeze({
    fetch: async (
      url: string,
      options: { method?: string; headers?: Record<string, string>; body?: unknown } = {},
    ) => {
      const body =
        options.body === undefined || typeof options.body === 'string'
          ? options.body
          : JSON.stringify(options.body)
      const r = await ask('fetch', {
        url: String(url),
        method: options.method,
        headers: options.headers,
        body,
      })
      return Object.freeze({
        status: r.status,
        ok: r.status >= 200 && r.status < 300,
        headers: r.headers,
        text: async () => r.body,
        json: async () => JSON.parse(r.body),
      })
    },
    secrets: Object.freeze({
      get: (key: string) => ask('secrets', { op: 'get', key }),
      set: (key: string, value: string) => ask('secrets', { op: 'set', key, value }),
      has: (key: string) => ask('secrets', { op: 'has', key }),
      delete: (key: string) => ask('secrets', { op: 'delete', key }),
    }),
    log: (...args: unknown[]) => void request('log', JSON.stringify(args.map(String))),
  })
  const module = (await import(pathToFileURL(init.main).href)) as { default?: unknown }
  if (typeof module.default !== 'function')
    throw new Error('the plugin must export default function main(env, ctx)')
  const tools = (await module.default(Object.freeze({ ...init.env }), ctx)) as Record<
    string,
    unknown
  >
  return {
    tools: Object.keys(tools ?? {}).filter((k) => typeof tools[k] === 'function'),
    engine: {
      async call(name, argsJson) {
        if (!Object.hasOwn(tools, name) || typeof tools[name] !== 'function')
          throw new Error(`no tool ${name}`)
        const result = await (tools[name] as (...args: unknown[]) => unknown)(
          ...JSON.parse(argsJson),
        )
        return JSON.stringify(result === undefined ? null : result)
      },
    },
  }
}

let engine: Engine | undefined
let queue: Promise<void> = Promise.resolve()

/** Thrown when QuickJS's interrupt handler ended a call at its deadline. */
class DeadlineError extends Error {}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

process.on('message', (raw: HostMessage) => {
  if (raw.t === 'init') {
    const init = raw
    const start = async () => {
      if (init.tier === 'isolated') return isolated(init, readFileSync(init.main, 'utf8'))
      return nodeTier(init)
    }
    start().then(
      (ready) => {
        engine = ready.engine
        send({ t: 'ready', tools: ready.tools })
      },
      (error: unknown) => send({ t: 'failed', message: message(error) }),
    )
  } else if (raw.t === 'call') {
    const { id, name, args } = raw
    queue = queue.then(async () => {
      currentTool = name
      try {
        if (engine === undefined) throw new Error('the plugin is not ready')
        send({ t: 'result', id, ok: true, value: await engine.call(name, args) })
      } catch (error) {
        if (error instanceof DeadlineError) send({ t: 'timeout', id })
        else send({ t: 'result', id, ok: false, value: message(error) })
      } finally {
        currentTool = ''
      }
    })
  } else if (raw.t === 'answer') {
    const waiting = pending.get(raw.id)
    pending.delete(raw.id)
    if (raw.ok) waiting?.resolve(raw.value)
    else waiting?.reject(new Error(raw.value))
  }
})
process.on('disconnect', () => process.exit(0))

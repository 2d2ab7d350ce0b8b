import type { Logger } from '@keyward/core'
import type { AuthStoreEvents } from '../types.js'
import { invalid } from './names.js'

/**
 * A handler of one {@link AuthStoreEvents} event, as {@link AuthStore.on} takes it.
 *
 * @example
 * ```ts
 * import type { Listener } from '@keyward/authstore'
 *
 * const onDegraded: Listener<'degraded'> = (event) => console.warn('degraded', event.service)
 * ```
 */
export type Listener<E extends keyof AuthStoreEvents> = (event: AuthStoreEvents[E]) => void

const EVENTS = new Set<string>(['refreshed', 'reauthRequired', 'degraded', 'cleared'])

/** The listeners of one store: a throwing handler is logged (its name only) and ignored. */
export class Emitter {
  readonly #listeners = new Map<string, Set<(event: never) => void>>()
  readonly #logger: Logger

  constructor(logger: Logger) {
    this.#logger = logger
  }

  on<E extends keyof AuthStoreEvents>(event: E, handler: Listener<E>): () => void {
    if (!EVENTS.has(event))
      throw invalid(`unknown event \`${String(event)}\`; use ${[...EVENTS].join(', ')}`)
    if (typeof handler !== 'function') throw invalid('event handler must be a function')
    let set = this.#listeners.get(event)
    if (set === undefined) {
      set = new Set()
      this.#listeners.set(event, set)
    }
    const listener = handler as (event: never) => void
    set.add(listener)
    return () => {
      set.delete(listener)
    }
  }

  emit<E extends keyof AuthStoreEvents>(event: E, payload: AuthStoreEvents[E]): void {
    const set = this.#listeners.get(event)
    if (set === undefined) return
    for (const handler of set) {
      try {
        ;(handler as Listener<E>)(payload)
      } catch (error) {
        this.#logger.error('authstore: event handler threw', {
          event,
          error: error instanceof Error ? error.name : typeof error,
        })
      }
    }
  }
}

import type { Driver } from '@keyward/core'
import { decodeRec, encodeRec, type Rec } from './records.js'
import { Snapshot } from './snapshot.js'

/** One record write (or removal) of a mutation, compare-and-set on its driver version. */
export type Write =
  | { readonly key: string; readonly rec: Rec; readonly ifVersion: number }
  | { readonly key: string; readonly remove: true; readonly ifVersion: number }

/** The shape of core's optional atomic multi-key write (`Driver.setMany`). */
type SetMany = (
  writes: readonly {
    key: string
    value: Uint8Array | null
    ifVersion?: number | undefined
  }[],
) => Promise<{ versions: readonly number[] }>

function atomicWrites(driver: Driver): SetMany | undefined {
  const setMany = (driver as { setMany?: unknown }).setMany
  return typeof setMany === 'function' ? (setMany.bind(driver) as SetMany) : undefined
}

function isPending(head: unknown): boolean {
  return (head as { pending?: unknown }).pending === true
}

/**
 * The vault's records in a driver, read as one consistent {@link Snapshot}.
 *
 * Layout: `<namespace>/head` (its driver version changes on every committed write),
 * `<namespace>/{c,e,s}/<id>` (one record per collection, environment, secret) and the lock
 * `<namespace>/write`. A snapshot is served from memory while the head's version is unchanged.
 *
 * Writers hold the lock. With a driver that has an atomic `setMany`, records and head are
 * written in one call. Without one, the head is first marked *pending*, then the records are
 * written, then the head is written clean: a reader never caches a view taken while the head
 * is pending, so a writer that crashes between its writes leaves records that every reader
 * lists (not a record that a cached process misses and then duplicates).
 */
export class Store {
  #cache: Snapshot | null = null
  #loading: Promise<Snapshot> | null = null
  readonly head: string
  readonly lock: string

  constructor(
    readonly driver: Driver,
    readonly namespace: string,
  ) {
    this.head = `${namespace}/head`
    this.lock = `${namespace}/write`
  }

  /** The driver key of a record. */
  recKey(rec: Rec): string {
    const letter = rec.kind === 'collection' ? 'c' : rec.kind === 'environment' ? 'e' : 's'
    return `${this.namespace}/${letter}/${rec.id}`
  }

  /** Reads the vault (checking its format); creates its head record on first use. */
  async init(): Promise<void> {
    const head = await this.driver.get(this.head)
    if (head !== null) {
      decodeRec(this.head, head.value)
      await this.snapshot()
      return
    }
    await this.driver.withLock(this.lock, async () => {
      const again = await this.driver.get(this.head)
      if (again === null)
        await this.driver.set(this.head, encodeRec({ kind: 'head' }), { ifVersion: 0 })
    })
  }

  async #read(): Promise<Snapshot> {
    for (let attempt = 0; ; attempt++) {
      const head = await this.driver.get(this.head)
      const version = head?.version ?? 0
      if (this.#cache && this.#cache.head === version) return this.#cache
      const pending = head ? isPending(decodeRec(this.head, head.value)) : false
      const snapshot = new Snapshot(version)
      const keys = (await this.driver.list(`${this.namespace}/`)).filter(
        (k) => k !== this.head && k !== this.lock,
      )
      const values = await Promise.all(keys.map((k) => this.driver.get(k)))
      const recs: [Rec, number][] = []
      keys.forEach((key, i) => {
        const stored = values[i]
        if (!stored) return
        const rec = decodeRec(key, stored.value)
        if (rec.kind !== 'head') recs.push([rec, stored.version])
      })
      // Collections and environments first, so secrets index against them.
      recs.sort((a, b) => order(a[0]) - order(b[0]))
      for (const [rec, dv] of recs) snapshot.put(rec, dv)
      const after = (await this.driver.get(this.head))?.version ?? 0
      if (after === version || attempt >= 4) {
        // Cache only a view of a committed state: records listed under a pending head may
        // change without the head changing again (a writer crashed between its writes).
        this.#cache = after === version && !pending ? snapshot : null
        return snapshot
      }
    }
  }

  /** One consistent view: from memory unless the vault changed since it was read. */
  snapshot(): Promise<Snapshot> {
    if (this.#loading) return this.#loading
    const loading = this.#read().finally(() => {
      this.#loading = null
    })
    this.#loading = loading
    return loading
  }

  /** Runs `plan` on a fresh view under the vault's write lock and applies its writes. */
  async mutate<T>(plan: (snapshot: Snapshot) => { writes: Write[]; result: T }): Promise<T> {
    return this.driver.withLock(this.lock, async () => {
      const snapshot = await this.#read()
      const { writes, result } = plan(snapshot)
      try {
        const { versions, head } = await this.#write(snapshot.head, writes)
        writes.forEach((write, i) => {
          if ('remove' in write) snapshot.removeSecret(write.key.slice(this.namespace.length + 3))
          else snapshot.put(write.rec, versions[i]!)
        })
        snapshot.head = head
        this.#cache = snapshot
      } catch (error) {
        this.#cache = null
        throw error
      }
      return result
    })
  }

  async #write(
    headVersion: number,
    writes: readonly Write[],
  ): Promise<{ versions: readonly number[]; head: number }> {
    const setMany = atomicWrites(this.driver)
    if (setMany) {
      const { versions } = await setMany([
        ...writes.map((w) => ({
          key: w.key,
          value: 'remove' in w ? null : encodeRec(w.rec),
          ifVersion: w.ifVersion,
        })),
        { key: this.head, value: encodeRec({ kind: 'head' }), ifVersion: headVersion },
      ])
      return { versions, head: versions[writes.length]! }
    }
    const { version: marked } = await this.driver.set(
      this.head,
      encodeRec({ kind: 'head', pending: true }),
      { ifVersion: headVersion },
    )
    const versions: number[] = []
    for (const write of writes) {
      if ('remove' in write) {
        await this.driver.delete(write.key, { ifVersion: write.ifVersion })
        versions.push(0)
      } else {
        const { version } = await this.driver.set(write.key, encodeRec(write.rec), {
          ifVersion: write.ifVersion,
        })
        versions.push(version)
      }
    }
    const { version } = await this.driver.set(this.head, encodeRec({ kind: 'head' }), {
      ifVersion: marked,
    })
    return { versions, head: version }
  }

  /** Drops the cached view. */
  forget(): void {
    this.#cache = null
  }
}

function order(rec: Rec): number {
  return rec.kind === 'collection' ? 0 : rec.kind === 'environment' ? 1 : 2
}

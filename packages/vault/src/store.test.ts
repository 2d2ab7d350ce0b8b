import { type Driver, KEYWARD_VERSION_CONFLICT, KeywardError } from '@keyward/core'
import { memoryDriver } from '@keyward/core/drivers/memory'
import { describe, expect, it } from 'vitest'
import { openVault } from './index.js'

type Write = { key: string; value: Uint8Array | null; ifVersion?: number | undefined }

/** A memory driver that records its writes; with `atomic`, it also has an all-or-nothing setMany. */
function recordingDriver(atomic: boolean): { driver: Driver; calls: string[] } {
  const inner = memoryDriver()
  const calls: string[] = []
  const driver: Driver & {
    setMany?: (writes: readonly Write[]) => Promise<{ versions: number[] }>
  } = {
    name: 'recording',
    durability: 'memory',
    get: (key) => inner.get(key),
    list: (prefix) => inner.list(prefix),
    withLock: (key, fn, options) => inner.withLock(key, fn, options),
    async set(key, value, options) {
      calls.push(`set ${key.split('/')[1]}`)
      return inner.set(key, value, options)
    },
    async delete(key, options) {
      calls.push(`delete ${key.split('/')[1]}`)
      return inner.delete(key, options)
    },
  }
  if (atomic)
    driver.setMany = async (writes) => {
      calls.push(`setMany ${writes.map((w) => w.key.split('/')[1]).join(',')}`)
      for (const w of writes) {
        const current = (await inner.get(w.key))?.version ?? 0
        if (w.ifVersion !== undefined && w.ifVersion !== current)
          throw new KeywardError(KEYWARD_VERSION_CONFLICT, `conflict on ${w.key}`)
      }
      const versions: number[] = []
      for (const w of writes)
        if (w.value === null) {
          await inner.delete(w.key)
          versions.push(0)
        } else versions.push((await inner.set(w.key, w.value)).version)
      return { versions }
    }
  return { driver, calls }
}

describe('the snapshot store', () => {
  it('writes a record and the head in one setMany when the driver has it', async () => {
    const { driver, calls } = recordingDriver(true)
    const vault = await openVault({ driver })
    calls.length = 0
    await vault.collections.create({ slug: 'app' })
    const { id } = await vault.secrets.create({ collection: 'app', name: 'A', value: 'a-value' })
    await vault.secrets.delete(id)
    expect(calls).toEqual(['setMany c,head', 'setMany s,head', 'setMany s,head'])
    expect(await (await openVault({ driver })).resolveEnvironment({ collection: 'app' })).toEqual(
      {},
    )
  })

  it('without setMany, marks the head pending before the records and clean after them', async () => {
    const { driver, calls } = recordingDriver(false)
    const vault = await openVault({ driver })
    calls.length = 0
    await vault.collections.create({ slug: 'app' })
    expect(calls).toEqual(['set head', 'set c', 'set head'])
    const head = await driver.get('vault/head')
    expect(JSON.parse(new TextDecoder().decode(head!.value))).toEqual({ format: 1, kind: 'head' })
  })
})

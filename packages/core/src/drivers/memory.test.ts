import { describe, expect, it } from 'vitest'
import { testDriver } from '../testing.js'
import { memoryDriver } from './memory.js'

testDriver({ name: 'memory', create: () => memoryDriver() })

describe('memoryDriver', () => {
  it('starts from initial values at version 1', async () => {
    const driver = memoryDriver({ initial: { a: new Uint8Array([1]) } })
    expect((await driver.get('a'))?.version).toBe(1)
  })

  it('reports memory durability', () => {
    expect(memoryDriver().durability).toBe('memory')
  })
})

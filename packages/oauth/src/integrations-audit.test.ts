// The audit trail kept through a driver (audit: 'driver'), on the memory driver: property tests
// of its verification on what the store hands back — any edit of a stored line, a line moved
// onto another seq or user, arbitrary bytes where a line should be — each found, never thrown
// past, never a silent ok. (Two instances on real PostgreSQL: integrations.processes.e2e.test.ts.)
import { memoryDriver } from '@keyward/core/drivers/memory'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { driverAuditTrail } from './internal/integration-audit.js'

const encoder = new TextEncoder()
const decoder = new TextDecoder()
const lineKey = (user: string, seq: number) => `ns/audit/${user}/${String(seq).padStart(12, '0')}`

async function trailOf(lines: number) {
  const driver = memoryDriver()
  const trail = driverAuditTrail(driver, 'ns/', () => 1_700_000_000_000)
  for (let i = 0; i < lines; i++)
    await trail.append({
      type: 'integration.refresh',
      user: 'u',
      integration: 'calendar',
      outcome: `n${i}`,
    })
  await trail.append({
    type: 'integration.connect',
    user: 'v',
    integration: 'calendar',
    outcome: 'started',
  })
  return { driver, trail }
}

describe('audit trail through the driver: verification', () => {
  it('an intact chain verifies, per user', async () => {
    const { trail } = await trailOf(5)
    expect(await trail.verify('u')).toMatchObject({ ok: true, lines: 5 })
    expect(await trail.verify('v')).toMatchObject({ ok: true, lines: 1 })
    expect((await trail.trail('u')).map((r) => r.entry.outcome)).toEqual([
      'n0',
      'n1',
      'n2',
      'n3',
      'n4',
    ])
  })

  it('any change to one stored line is found at that line', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 5 }),
        fc.nat(),
        fc.string({ minLength: 1, maxLength: 3 }),
        async (seq, at, insert) => {
          const { driver, trail } = await trailOf(5)
          const key = lineKey('u', seq)
          const line = decoder.decode((await driver.get(key))!.value)
          const cut = at % line.length
          const edited = `${line.slice(0, cut)}${insert}${line.slice(cut + 1)}`
          fc.pre(edited !== line)
          await driver.set(key, encoder.encode(edited))
          const result = await trail.verify('u')
          expect(result.ok).toBe(false)
          if (!result.ok) expect(result.line).toBe(seq)
        },
      ),
      { numRuns: 60 },
    )
  })

  it('a line moved to another place or user, or bytes that are no line, are found and never throw', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.oneof(
          fc.constant<'swap'>('swap'),
          fc.constant<'foreign'>('foreign'),
          fc.uint8Array({ maxLength: 200 }),
        ),
        async (seq, how) => {
          const { driver, trail } = await trailOf(5)
          const here = lineKey('u', seq)
          if (how === 'swap') {
            const next = lineKey('u', seq + 1)
            const [a, b] = [(await driver.get(here))!.value, (await driver.get(next))!.value]
            await driver.set(here, b)
            await driver.set(next, a)
          } else if (how === 'foreign') {
            await driver.set(here, (await driver.get(lineKey('v', 1)))!.value)
          } else {
            await driver.set(here, how)
          }
          const result = await trail.verify('u')
          expect(result.ok).toBe(false)
          if (!result.ok) expect(result.line).toBe(seq)
        },
      ),
      { numRuns: 60 },
    )
  })

  it('lines cut off the end are found through the head record', async () => {
    const { driver, trail } = await trailOf(5)
    await driver.delete(lineKey('u', 5))
    expect(await trail.verify('u')).toMatchObject({ ok: false, reason: 'head' })
  })
})

import { mkdtemp, rm } from 'node:fs/promises'
import { createServer, type Server, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { assertBuilt } from '../../../../test/_built.js'
import { coreDir, run, tempLockDir, uniqueService } from './_keyring-helpers.js'

const child = fileURLToPath(new URL('./_keyring-child.mjs', import.meta.url))
const CANARY = 'canary-keyring-child-3b7d-do-not-leak'
const linux = process.platform === 'linux'
if (!linux) console.warn('skipping: the silent session bus is a Linux (D-Bus) condition')

/** A D-Bus "server" that accepts connections and never answers (or only the handshake). */
async function silentBus(dir: string, answerHandshake: boolean) {
  const path = join(dir, answerHandshake ? 'bus-hello' : 'bus-silent')
  const sockets = new Set<Socket>()
  let connections = 0
  const server: Server = createServer((socket) => {
    connections++
    sockets.add(socket)
    socket.on('error', () => {})
    socket.on('close', () => sockets.delete(socket))
    if (answerHandshake) {
      let seen = ''
      socket.on('data', (chunk) => {
        seen += chunk.toString('latin1')
        if (seen.includes('AUTH') && seen.includes('\r\n') && !seen.includes('OK-SENT')) {
          seen += 'OK-SENT'
          socket.write('OK 0123456789abcdef0123456789abcdef\r\n')
        }
      })
    }
  })
  await new Promise<void>((resolve) => server.listen(path, resolve))
  return {
    address: `unix:path=${path}`,
    connections: () => connections,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      }),
  }
}

async function inChild(busAddress: string, lockDir: string, timeout: string) {
  const { stdout } = await run(
    process.execPath,
    [child, 'silent', uniqueService('silent'), lockDir, timeout],
    {
      cwd: coreDir,
      env: { ...process.env, DBUS_SESSION_BUS_ADDRESS: busAddress },
      // The child must end on its own, long before this.
      timeout: 45_000,
    },
  )
  expect(stdout).not.toContain(CANARY)
  return JSON.parse(stdout)
}

describe.skipIf(!linux)('keyring calls against a session bus that never answers', () => {
  let dir: string
  let lockDir: string
  beforeAll(async () => {
    assertBuilt(['core'])
    dir = await mkdtemp(join(tmpdir(), 'keyward-silent-bus-'))
    lockDir = await tempLockDir()
  })
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
    await rm(lockDir, { recursive: true, force: true })
  })

  for (const answerHandshake of [false, true]) {
    it(`every call ends with KEYWARD_KEYRING_TIMEOUT (${answerHandshake ? 'bus answers the handshake, then falls silent' : 'bus accepts and never answers'})`, async () => {
      const bus = await silentBus(dir, answerHandshake)
      try {
        const result = await inChild(bus.address, lockDir, '300')
        expect(bus.connections()).toBeGreaterThan(0)
        for (const probe of [result.probe, result.probeKeyring]) {
          expect(probe).toMatchObject({ available: false, code: 'KEYWARD_KEYRING_TIMEOUT' })
          expect(probe.message).toContain('300 ms')
          expect(probe.message).toContain('timeoutMs')
        }
        for (const op of ['get', 'set', 'delete', 'list', 'keyCreate', 'keyOpen', 'foreign']) {
          expect(result[op], op).toMatchObject({ ok: false, code: 'KEYWARD_KEYRING_TIMEOUT' })
          expect(result[op].message, op).toContain('DBUS_SESSION_BUS_ADDRESS')
        }
      } finally {
        await bus.close()
      }
    })
  }

  it('probeKeyring() with no options ends by its documented default (10 s)', async () => {
    const bus = await silentBus(dir, false)
    try {
      const result = await inChild(bus.address, lockDir, 'default')
      expect(result.probeKeyring).toMatchObject({
        available: false,
        code: 'KEYWARD_KEYRING_TIMEOUT',
      })
      expect(result.probeKeyring.message).toContain('10000 ms')
      expect(result.elapsedMs).toBeGreaterThanOrEqual(10_000)
    } finally {
      await bus.close()
    }
  })
})

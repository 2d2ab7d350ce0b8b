/**
 * A bounded check that the D-Bus session bus answers, run before `@napi-rs/keyring` opens a
 * connection to it. The native binding connects synchronously, on the calling thread, with no
 * timeout: a bus that accepts connections but never answers would block the whole process
 * (every timer included) forever. This check speaks the first steps of the D-Bus protocol
 * itself — the SASL `AUTH EXTERNAL` handshake and the `Hello` call every client makes — over
 * a socket with a deadline, so a silent bus becomes an error instead of a hang.
 *
 * @module
 */
import { connect, type Socket } from 'node:net'

/** Where a D-Bus address points, when it is a transport this check can speak. */
export interface BusSocketAddress {
  /** A filesystem path, or for an abstract socket `\0` followed by its name. */
  readonly path: string
}

const MAX_ADDRESS_CHARS = 4096

function unescapeValue(value: string): string | undefined {
  try {
    return decodeURIComponent(value)
  } catch {
    return undefined
  }
}

/**
 * Reads the first `unix:` address of a D-Bus address list (`unix:path=…` or
 * `unix:abstract=…`, values percent-escaped). `undefined` for anything else (tcp, launchd,
 * autolaunch, a malformed value): the check is skipped and the binding reports those itself.
 * Linear in the input; never throws.
 */
export function parseBusAddress(address: string | undefined): BusSocketAddress | undefined {
  if (address === undefined || address.length > MAX_ADDRESS_CHARS) return undefined
  for (const entry of address.split(';')) {
    const colon = entry.indexOf(':')
    if (colon < 0 || entry.slice(0, colon) !== 'unix') continue
    for (const pair of entry.slice(colon + 1).split(',')) {
      const eq = pair.indexOf('=')
      if (eq < 0) continue
      const key = pair.slice(0, eq)
      const value = unescapeValue(pair.slice(eq + 1))
      if (value === undefined || value.length === 0) continue
      if (key === 'path') return { path: value }
      if (key === 'abstract') return { path: `\0${value}` }
    }
    return undefined
  }
  return undefined
}

function align(length: number, to: number): number {
  return (to - (length % to)) % to
}

/** The `org.freedesktop.DBus.Hello` method call every client sends first (little-endian). */
export function helloMessage(serial = 1): Buffer {
  const fields: Buffer[] = []
  let offset = 16 // fixed header + the array length
  const field = (code: number, signature: string, value: string) => {
    const pad = Buffer.alloc(align(offset, 8))
    const text = Buffer.from(value, 'utf8')
    const head = Buffer.from([code, 1, signature.charCodeAt(0), 0])
    const length = Buffer.alloc(4)
    length.writeUInt32LE(text.byteLength)
    const part = Buffer.concat([pad, head, length, text, Buffer.from([0])])
    offset += part.byteLength
    fields.push(part)
  }
  field(1, 'o', '/org/freedesktop/DBus')
  field(6, 's', 'org.freedesktop.DBus')
  field(2, 's', 'org.freedesktop.DBus')
  field(3, 's', 'Hello')
  const array = Buffer.concat(fields)
  const header = Buffer.alloc(16)
  header.write('l', 0, 'latin1')
  header[1] = 1 // METHOD_CALL
  header[2] = 0
  header[3] = 1 // protocol version
  header.writeUInt32LE(0, 4) // body length
  header.writeUInt32LE(serial, 8)
  // The array length excludes the padding before its first element (there is none at 16).
  header.writeUInt32LE(array.byteLength, 12)
  return Buffer.concat([header, array, Buffer.alloc(align(16 + array.byteLength, 8))])
}

/** How the bus check ended. */
export type BusCheck =
  | { readonly kind: 'answered' }
  /** The socket could not be reached (no such path, refused): the binding reports it. */
  | { readonly kind: 'unreachable' }
  | { readonly kind: 'silent'; readonly step: 'connect' | 'auth' | 'hello' }
  | { readonly kind: 'rejected' }

/**
 * Connects to `address`, authenticates as this user and says Hello, within `timeoutMs`.
 * Resolves with what happened; never rejects.
 */
export function checkSessionBus(address: BusSocketAddress, timeoutMs: number): Promise<BusCheck> {
  return new Promise((resolve) => {
    let step: 'connect' | 'auth' | 'hello' = 'connect'
    let received = ''
    let socket: Socket | undefined
    const finish = (result: BusCheck) => {
      clearTimeout(timer)
      socket?.removeAllListeners()
      socket?.on('error', () => {})
      socket?.destroy()
      resolve(result)
    }
    const timer = setTimeout(() => finish({ kind: 'silent', step }), timeoutMs)
    timer.unref?.()
    socket = connect({ path: address.path })
    socket.on('error', () => finish({ kind: 'unreachable' }))
    socket.on('close', () => finish({ kind: step === 'hello' ? 'rejected' : 'unreachable' }))
    socket.on('connect', () => {
      step = 'auth'
      const uid = typeof process.getuid === 'function' ? String(process.getuid()) : ''
      socket?.write(`\0AUTH EXTERNAL ${Buffer.from(uid, 'latin1').toString('hex')}\r\n`)
    })
    socket.on('data', (chunk: Buffer) => {
      if (step === 'hello') return finish({ kind: 'answered' })
      received += chunk.toString('latin1')
      if (received.length > 512) return finish({ kind: 'rejected' })
      const end = received.indexOf('\r\n')
      if (end < 0) return
      if (!received.startsWith('OK ')) return finish({ kind: 'rejected' })
      step = 'hello'
      socket?.write(Buffer.concat([Buffer.from('BEGIN\r\n', 'latin1'), helloMessage()]))
    })
  })
}

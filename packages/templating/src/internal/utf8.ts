// Incremental UTF-8 decoding for the streaming redactor, without TextDecoder's stream mode (Node
// 24 drops a U+FEFF that follows a pending invalid byte there).
import { isAscii } from 'node:buffer'

/**
 * UTF-8 bytes to text across chunks, exactly as one `TextDecoder` over the concatenated bytes
 * would decode them (a leading byte order mark dropped, invalid bytes as U+FFFD).
 *
 * It does not rely on `TextDecoder`'s `stream` mode: Node 24's drops a U+FEFF that follows a
 * pending invalid byte across a chunk boundary. Instead it holds back only the bytes of a
 * character that is still unfinished at the end of a chunk (at most 3) and decodes the rest
 * whole. Cutting before a lead byte is exact: whatever precedes it decodes the same whether or
 * not more bytes follow. An ASCII chunk with nothing held back is copied as Latin-1 — the same
 * text, several times faster.
 */

export class Utf8Decoder {
  readonly #decoder = new TextDecoder('utf-8', { ignoreBOM: true })
  /** Bytes of an unfinished character from the end of the previous chunk. */
  #carry: Uint8Array = new Uint8Array(0)
  /** No byte of the stream has been decoded yet (so a BOM here is the stream's own). */
  #atStart = true

  decode(chunk: Uint8Array): string {
    if (chunk.length === 0) return ''
    if (this.#carry.length === 0 && isAscii(chunk)) {
      this.#atStart = false
      return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString('latin1')
    }
    const bytes = this.#carry.length === 0 ? chunk : Buffer.concat([this.#carry, chunk])
    const cut = unfinishedTail(bytes)
    this.#carry = bytes.slice(cut)
    return this.#emit(bytes.subarray(0, cut))
  }

  end(): string {
    const rest = this.#carry
    this.#carry = new Uint8Array(0)
    return this.#emit(rest)
  }

  #emit(bytes: Uint8Array): string {
    if (bytes.length === 0) return ''
    let from = 0
    if (
      this.#atStart &&
      bytes.length >= 3 &&
      bytes[0] === 0xef &&
      bytes[1] === 0xbb &&
      bytes[2] === 0xbf
    ) {
      from = 3
    }
    this.#atStart = false
    return this.#decoder.decode(from === 0 ? bytes : bytes.subarray(from))
  }
}

/**
 * Where the unfinished character at the end of `bytes` starts (`bytes.length` when there is
 * none): the last valid lead byte among the final three, if fewer bytes follow it than its
 * sequence needs.
 */
function unfinishedTail(bytes: Uint8Array): number {
  const n = bytes.length
  for (let p = n - 1; p >= 0 && p >= n - 3; p--) {
    const b = bytes[p]!
    if (b < 0x80) return n
    if (b < 0xc0) continue
    const need =
      b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 0
    return need > n - p ? p : n
  }
  return n
}

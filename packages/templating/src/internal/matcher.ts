/**
 * The multi-pattern matcher behind the redactor: a sampled q-gram filter with verified matches.
 *
 * Let `w` be the length of the shortest needle. Every occurrence of a needle covers `w`
 * consecutive characters, so it contains a q-gram (q = 4) starting at one of `s = w - q + 1`
 * consecutive positions — exactly one of which is a multiple of `s`. The scan therefore reads
 * only the q-gram at every `s`-th position of the text, tests it against a bitmap of the
 * q-grams found at offsets `0 … s-1` of the needles, and on a hit verifies the few candidate
 * needles with `startsWith`. Every occurrence is found; the results are reduced to the longest
 * needle at each start. Needles can be added at any time (the index is rebuilt lazily when a
 * shorter needle changes `w`).
 *
 * Not exported from the package.
 */

const Q = 4
const K = 0x01000193
const MIX = 0x9e3779b1 | 0
const BITS = 23
const SHIFT = 32 - BITS
const KEY_MASK = 0x3fffffff
const HEAD_BITS = 18

/** Matches: flat triples (start, end, label id), sorted by start, the longest at each start. */
export type _Matches = number[]

function _qgram(text: string, p: number): number {
  let h = Math.imul(text.charCodeAt(p), K) ^ text.charCodeAt(p + 1)
  h = Math.imul(h, K) ^ text.charCodeAt(p + 2)
  return Math.imul(h, K) ^ text.charCodeAt(p + 3)
}

/**
 * The first sampled position from `p` on (every `stride`-th) whose q-gram is in `bitmap`, or
 * -1. Only the tight loop, in a function of its own: a hit (rare, and absent while the
 * engine collects type feedback) must not send the loop back to the interpreter.
 */
function _nextHit(text: string, p: number, stride: number, bitmap: Uint32Array): number {
  const last = text.length - Q
  for (; p <= last; p += stride) {
    let h = Math.imul(text.charCodeAt(p), K) ^ text.charCodeAt(p + 1)
    h = Math.imul(h, K) ^ text.charCodeAt(p + 2)
    h = Math.imul(h, K) ^ text.charCodeAt(p + 3)
    const x = Math.imul(h, MIX) >>> SHIFT
    if ((bitmap[x >>> 5]! & (1 << (x & 31))) !== 0) return p
  }
  return -1
}

export class _Matcher {
  /** Longest needle so far. */
  maxLen = 0
  readonly #floor: number
  #w = Number.POSITIVE_INFINITY
  #stride = 1
  #bitmap = new Uint32Array(1 << (BITS - 5))
  /** q-gram key → flat pairs (needle id, offset of the q-gram in the needle). */
  #table = new Map<number, number[]>()
  readonly #needles: string[] = []
  readonly #labels: number[] = []
  readonly #known = new Set<string>()
  #sorted: string[] | null = null
  #dirty = false
  readonly #found: number[] = []
  /** Bitmap of the first q-grams of the needles: a quick "cannot be a prefix" test. */
  readonly #heads = new Uint32Array(1 << (HEAD_BITS - 5))

  /** `floor`: no needle shorter than this is accepted (at least 4). */
  constructor(floor: number) {
    this.#floor = Math.max(Q, floor)
  }

  get size(): number {
    return this.#needles.length
  }

  /** Adds `needle` for label id `label`; false if too short or already there. */
  add(needle: string, label: number): boolean {
    if (needle.length < this.#floor || this.#known.has(needle)) return false
    this.#known.add(needle)
    const id = this.#needles.length
    this.#needles.push(needle)
    this.#labels.push(label)
    if (needle.length > this.maxLen) this.maxLen = needle.length
    const x = Math.imul(_qgram(needle, 0), MIX) >>> (32 - HEAD_BITS)
    this.#heads[x >>> 5]! |= 1 << (x & 31)
    this.#sorted = null
    if (needle.length < this.#w) {
      // A shorter needle changes the window and stride: rebuild the index on next use.
      this.#w = Math.min(needle.length, 64)
      this.#stride = this.#w - Q + 1
      this.#dirty = true
    } else if (!this.#dirty) this.#index(id)
    return true
  }

  #index(id: number): void {
    const needle = this.#needles[id]!
    for (let off = 0; off < this.#stride; off++) {
      const h = _qgram(needle, off)
      const x = Math.imul(h, MIX) >>> SHIFT
      this.#bitmap[x >>> 5]! |= 1 << (x & 31)
      const key = h & KEY_MASK
      const list = this.#table.get(key)
      if (list) list.push(id, off)
      else this.#table.set(key, [id, off])
    }
  }

  #rebuild(): void {
    this.#bitmap = new Uint32Array(1 << (BITS - 5))
    this.#table = new Map()
    for (let id = 0; id < this.#needles.length; id++) this.#index(id)
    this.#dirty = false
  }

  /** Appends to `out` the longest match at each start, for matches inside `text`, by start. */
  scan(text: string, out: _Matches): void {
    if (this.#needles.length === 0) return
    if (this.#dirty) this.#rebuild()
    const stride = this.#stride
    const bitmap = this.#bitmap
    const found = this.#found
    found.length = 0
    for (
      let p = _nextHit(text, 0, stride, bitmap);
      p !== -1;
      p = _nextHit(text, p + stride, stride, bitmap)
    ) {
      this.#verify(text, p, _qgram(text, p), found)
    }
    if (found.length === 0) return
    // Sort (start asc, end desc) and keep the longest at each start.
    const order: number[] = []
    for (let k = 0; k < found.length; k += 3) order.push(k)
    order.sort((a, b) => found[a]! - found[b]! || found[b + 1]! - found[a + 1]!)
    let lastStart = -1
    for (const k of order) {
      if (found[k] === lastStart) continue
      lastStart = found[k]!
      out.push(found[k]!, found[k + 1]!, found[k + 2]!)
    }
  }

  #verify(text: string, p: number, h: number, found: number[]): void {
    const list = this.#table.get(h & KEY_MASK)
    if (!list) return
    for (let k = 0; k < list.length; k += 2) {
      const id = list[k]!
      const start = p - list[k + 1]!
      if (start < 0) continue
      const needle = this.#needles[id]!
      if (text.startsWith(needle, start))
        found.push(start, start + needle.length, this.#labels[id]!)
    }
  }

  /**
   * The earliest position `i` such that `text.slice(i)` is a proper prefix of some needle (a
   * match that may still complete with more text), or -1.
   */
  partialStart(text: string): number {
    const len = text.length
    if (this.#needles.length === 0) return -1
    const sorted = this.#sortedNeedles()
    const heads = this.#heads
    for (let i = Math.max(0, len - this.maxLen + 1); i < len; i++) {
      // A tail of at least Q characters is a needle's prefix only if it starts with the first
      // q-gram of a needle (every needle has at least Q characters): most positions stop here.
      if (len - i >= Q) {
        const x = Math.imul(_qgram(text, i), MIX) >>> (32 - HEAD_BITS)
        if ((heads[x >>> 5]! & (1 << (x & 31))) === 0) continue
      }
      const tail = text.slice(i)
      let lo = 0
      let hi = sorted.length
      while (lo < hi) {
        const mid = (lo + hi) >>> 1
        if (sorted[mid]! < tail) lo = mid + 1
        else hi = mid
      }
      // Needles that start with `tail` sort right after it; one of them may equal it.
      for (let k = lo; k < lo + 2 && k < sorted.length; k++) {
        const n = sorted[k]!
        if (n.length > tail.length && n.startsWith(tail)) return i
      }
    }
    return -1
  }

  #sortedNeedles(): string[] {
    if (!this.#sorted) {
      this.#sorted = this.#needles.slice().sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    }
    return this.#sorted
  }
}

/**
 * The multi-pattern matcher behind the redactor: a Rabin–Karp filter over a fixed window `w`
 * (every needle is at least `w` long), a bitmap of the needles' first-window hashes, and
 * verification with `startsWith` (longest needle first). One pass over the text finds, at each
 * position, the longest needle that starts there. Needles can be added at any time.
 *
 * Not exported from the package.
 */

const MULT = 0x01000193
const MIX = 0x9e3779b1 | 0
const BITS = 22
const SHIFT = 32 - BITS
const KEY_MASK = 0x3fffffff

/** Matches found by {@link _Matcher.scan}: flat triples (start, end, label id), by start. */
export type _Matches = number[]

export class _Matcher {
  /** The window: the length of the shortest needle allowed. */
  readonly w: number
  /** Longest needle so far. */
  maxLen = 0
  readonly #pow: number
  readonly #bitmap = new Uint32Array(1 << (BITS - 5))
  readonly #buckets = new Map<number, number[]>()
  readonly #needles: string[] = []
  readonly #labels: number[] = []
  readonly #known = new Set<string>()
  #sorted: string[] | null = null

  constructor(w: number) {
    this.w = w
    let pow = 1
    for (let k = 1; k < w; k++) pow = Math.imul(pow, MULT)
    this.#pow = pow
  }

  get size(): number {
    return this.#needles.length
  }

  #hash(text: string, from: number): number {
    let h = 0
    for (let k = from; k < from + this.w; k++) h = (Math.imul(h, MULT) + text.charCodeAt(k)) | 0
    return h
  }

  #hit(h: number): boolean {
    const x = Math.imul(h, MIX) >>> SHIFT
    return (this.#bitmap[x >>> 5]! & (1 << (x & 31))) !== 0
  }

  /** Adds `needle` (at least `w` long) for label id `label`; false if it was already there. */
  add(needle: string, label: number): boolean {
    if (needle.length < this.w || this.#known.has(needle)) return false
    this.#known.add(needle)
    const id = this.#needles.length
    this.#needles.push(needle)
    this.#labels.push(label)
    const h = this.#hash(needle, 0)
    const x = Math.imul(h, MIX) >>> SHIFT
    this.#bitmap[x >>> 5]! |= 1 << (x & 31)
    const key = h & KEY_MASK
    const bucket = this.#buckets.get(key)
    if (bucket) {
      bucket.push(id)
      bucket.sort((a, b) => this.#needles[b]!.length - this.#needles[a]!.length)
    } else this.#buckets.set(key, [id])
    if (needle.length > this.maxLen) this.maxLen = needle.length
    this.#sorted = null
    return true
  }

  /** Appends to `out` the longest match starting at each position of `text` from `from`. */
  scan(text: string, from: number, out: _Matches): void {
    const w = this.w
    const len = text.length
    if (len - from < w || this.#needles.length === 0) return
    const pow = this.#pow
    const bitmap = this.#bitmap
    let h = this.#hash(text, from)
    for (let i = from; ; i++) {
      const x = Math.imul(h, MIX) >>> SHIFT
      if ((bitmap[x >>> 5]! & (1 << (x & 31))) !== 0) this.#verify(text, i, h, out)
      const j = i + w
      if (j >= len) break
      h = (Math.imul(h - Math.imul(text.charCodeAt(i), pow), MULT) + text.charCodeAt(j)) | 0
    }
  }

  #verify(text: string, i: number, h: number, out: _Matches): void {
    const bucket = this.#buckets.get(h & KEY_MASK)
    if (!bucket) return
    for (const id of bucket) {
      const needle = this.#needles[id]!
      if (text.startsWith(needle, i)) {
        out.push(i, i + needle.length, this.#labels[id]!)
        return
      }
    }
  }

  /**
   * The earliest position `i >= from` such that `text.slice(i)` is a proper prefix of some
   * needle (a match that may still complete with more text), or -1.
   */
  partialStart(text: string, from: number): number {
    const len = text.length
    const w = this.w
    for (let i = Math.max(from, len - this.maxLen + 1); i < len; i++) {
      const rest = len - i
      if (rest >= w) {
        const h = this.#hash(text, i)
        if (!this.#hit(h)) continue
        const bucket = this.#buckets.get(h & KEY_MASK)
        if (!bucket) continue
        for (const id of bucket) {
          const needle = this.#needles[id]!
          if (needle.length > rest && text.startsWith(needle.slice(0, rest), i)) return i
        }
      } else {
        const sorted = this.#sortedNeedles()
        const tail = text.slice(i)
        let lo = 0
        let hi = sorted.length
        while (lo < hi) {
          const mid = (lo + hi) >>> 1
          if (sorted[mid]! < tail) lo = mid + 1
          else hi = mid
        }
        if (lo < sorted.length && sorted[lo]!.startsWith(tail)) return i
      }
    }
    return -1
  }

  #sortedNeedles(): string[] {
    if (!this.#sorted)
      this.#sorted = this.#needles.slice().sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    return this.#sorted
  }
}

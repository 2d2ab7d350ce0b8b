import { MAX_SEGMENT_LENGTH } from '../limits.js'
import type { Reference } from '../references.js'

/** Words of a packed name part: two segments, a `.` and a `}`, four characters a word. */
export const KEY_WORDS = Math.ceil((2 * MAX_SEGMENT_LENGTH + 2) / 4) + 1

const HASH_K = 0x9e3779b1 | 0

/**
 * Random words that key each registry's hash, drawn from the platform's CSPRNG in batches
 * (one `getRandomValues` call per 512 registries rather than one per call of `substitute`).
 */
const pool = new Uint32Array(1024)
let poolAt = pool.length

function randomWord(): number {
  if (poolAt === pool.length) {
    globalThis.crypto.getRandomValues(pool)
    poolAt = 0
  }
  return pool[poolAt++]! | 0
}

/**
 * One step of the hash of a packed name part (four 7-bit characters a word): multiply, then
 * fold the high bits down. The scanner's fast path inlines the same computation.
 */
export function mix(h: number, word: number): number {
  const m = Math.imul(h ^ word, HASH_K)
  return m ^ (m >>> 15)
}

/**
 * The unique references a set of scans found, by raw text: each raw text gets one index and
 * one {@link Reference} (that of its first occurrence). An occurrence is looked up by hashing
 * its characters in place, so a repeated reference costs no allocation.
 *
 * The table is open addressing with linear probing, which degrades to a linear scan per lookup
 * when many keys land in one cluster. Agents write templates, so the hash is keyed: each
 * registry starts from its own random {@link seed} and finishes with a keyed avalanche, and
 * nobody who does not know those words can choose names that collide. {@link probes} counts
 * the slots visited, so tests can check that crafted input costs what random input costs.
 */
export class Registry {
  readonly refs: Reference[] = []
  readonly namespaces: readonly string[]
  /** Where every name part's hash starts (random per registry). */
  readonly seed: number = randomWord()
  /** Slots visited by every lookup so far (for tests: crafted collisions must not add up). */
  probes = 0
  readonly #finish: number = randomWord()
  /** Open addressing: index + 1 of a reference (0 = empty), and its finished hash. */
  #slots = new Int32Array(64)
  #hashes = new Int32Array(64)
  /** The string holding each reference's first occurrence. */
  readonly #texts: string[] = []
  /** Each reference's namespace, as an index into {@link namespaces}. */
  readonly #ns: number[] = []
  /** Each reference's name part length (after `${<namespace>.`, through `}`). */
  readonly #lengths: number[] = []
  #slot = 0
  #hash = 0

  constructor(namespaces: readonly string[]) {
    this.namespaces = namespaces
  }

  /**
   * The name part of the occurrence the scanner's fast path is parsing, packed four 7-bit
   * characters to a word (an exact key: with equal lengths, equal words mean equal text), so
   * that a repeated reference is recognised by comparing a few words rather than re-reading
   * its characters.
   */
  readonly key = new Int32Array(KEY_WORDS)
  /** Packed name parts of the references the fast path inserted, back to back. */
  #pool = new Int32Array(1024)
  #poolLength = 0
  /** Per reference: offset of its packed name part in {@link #pool}, or -1 (general path). */
  readonly #keyAt: number[] = []

  /** The finished, keyed hash (a murmur3 finaliser over the chained hash and a secret word). */
  #finished(h: number): number {
    let x = h ^ this.#finish
    x = Math.imul(x ^ (x >>> 16), 0x85ebca6b)
    x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35)
    return x ^ (x >>> 16)
  }

  /**
   * Index of the reference in namespace `ns` whose name part is the `words` words of
   * {@link key} (`length` characters, with chained hash `chained` from {@link seed}), or -1
   * (then {@link insertKey} adds it).
   */
  findKey(words: number, length: number, ns: number, chained: number): number {
    return this.#probe(this.#finished(chained), ns, length, null, words)
  }

  /**
   * Adds `ref` (in `text`, namespace `ns`), which the last {@link findKey} did not find, with
   * its packed name part (the first `words` words of {@link key}).
   */
  insertKey(ref: Reference, text: string, ns: number, words: number): number {
    let pool = this.#pool
    if (this.#poolLength + words > pool.length) {
      pool = new Int32Array(Math.max(pool.length * 2, this.#poolLength + words))
      pool.set(this.#pool)
      this.#pool = pool
    }
    this.#keyAt.push(this.#poolLength)
    for (let w = 0; w < words; w++) pool[this.#poolLength++] = this.key[w]!
    return this.#add(ref, text, ns)
  }

  /**
   * Index of the reference whose name part (after `${<namespace>.`, through `}`) is written
   * `text[body, end)`, in namespace `ns` (an index into {@link namespaces}), or -1 (then
   * {@link insert} adds it). For references the general path of the scanner parses (quoted
   * names), which the fast path never produces.
   */
  find(text: string, body: number, end: number, ns: number): number {
    return this.#probe(this.#finished(this.hash(text, body, end)), ns, end - body, text, body)
  }

  /** Adds `ref` (in `text`, namespace `ns`), which the last {@link find} did not find. */
  insert(ref: Reference, text: string, ns: number): number {
    this.#keyAt.push(-1)
    return this.#add(ref, text, ns)
  }

  /**
   * Chained hash of the name part `text[start, end)` of a reference (after `${<namespace>.`,
   * through `}`), from {@link seed}: what the scanner's fast path computes as it parses.
   */
  hash(text: string, start: number, end: number): number {
    let h = this.seed
    let word = 0
    let chars = 0
    for (let p = start; p < end - 1; p++) {
      word = (word << 7) | text.charCodeAt(p)
      if (++chars === 4) {
        h = mix(h, word)
        word = 0
        chars = 0
      }
    }
    return mix(h, (word << 7) | text.charCodeAt(end - 1))
  }

  /**
   * The probe both lookups share: the index of the reference in namespace `ns` with finished
   * hash `h` and a name part `length` characters long that is the same as the one looked up
   * (see {@link #sameName}), or -1, with the empty slot kept for the insert that follows.
   */
  #probe(h: number, ns: number, length: number, text: string | null, at: number): number {
    const slots = this.#slots
    const mask = slots.length - 1
    let s = h & mask
    let probes = 1
    for (;;) {
      const v = slots[s]!
      if (v === 0) break
      if (
        this.#hashes[s] === h &&
        this.#ns[v - 1] === ns &&
        this.#lengths[v - 1] === length &&
        this.#sameName(v - 1, text, at, length)
      ) {
        this.probes += probes
        return v - 1
      }
      s = (s + 1) & mask
      probes++
    }
    this.probes += probes
    this.#slot = s
    this.#hash = h
    return -1
  }

  /**
   * Whether the name part of reference `index` (of the looked-up namespace and length) is the
   * one looked up: with `text === null`, the first `at` words of {@link key} (a reference the
   * general path inserted has no packed key and never matches); else `text` from `at` on,
   * compared with the first occurrence in its own string (a flat string reads faster than the
   * sliced `raw`).
   */
  #sameName(index: number, text: string | null, at: number, length: number): boolean {
    if (text === null) {
      const from = this.#keyAt[index]!
      if (from < 0) return false
      const pool = this.#pool
      const key = this.key
      let w = 0
      while (w < at && pool[from + w] === key[w]) w++
      return w === at
    }
    const ref = this.refs[index]!
    const body = ref.start + ref.namespace.length + 3
    return same(this.#texts[index]!, body, text, at, at + length)
  }

  #add(ref: Reference, text: string, ns: number): number {
    const index = this.refs.length
    this.refs.push(ref)
    this.#texts.push(text)
    this.#ns.push(ns)
    this.#lengths.push(ref.end - ref.start - ref.namespace.length - 3)
    this.#slots[this.#slot] = index + 1
    this.#hashes[this.#slot] = this.#hash
    if (2 * this.refs.length > this.#slots.length) this.#grow()
    return index
  }

  #grow(): void {
    const slots = new Int32Array(this.#slots.length * 2)
    const hashes = new Int32Array(slots.length)
    const mask = slots.length - 1
    for (let s = 0; s < this.#slots.length; s++) {
      const v = this.#slots[s]!
      if (v === 0) continue
      let t = this.#hashes[s]! & mask
      this.probes++
      while (slots[t] !== 0) {
        t = (t + 1) & mask
        this.probes++
      }
      slots[t] = v
      hashes[t] = this.#hashes[s]!
    }
    this.#slots = slots
    this.#hashes = hashes
  }
}

/** Whether `text[start, end)` equals `other` from offset `from` on. */
function same(other: string, from: number, text: string, start: number, end: number): boolean {
  for (let k = from, p = start; p < end; k++, p++) {
    if (other.charCodeAt(k) !== text.charCodeAt(p)) return false
  }
  return true
}

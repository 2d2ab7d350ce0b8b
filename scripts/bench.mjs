#!/usr/bin/env node
// npm run bench [filter]: builds, runs every packages/*/bench/*.bench.ts in its own process
// (inside a private keyring session where one can be started, as for the tests), and prints
// one table: each figure, its baseline measured in the same run, and the ratio.
import { spawnSync } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { buildPackages } from './build.mjs'
import { keyringSessionCommand } from './keyring-session.mjs'

const root = new URL('..', import.meta.url).pathname
const filter = process.argv[2] ?? ''

buildPackages()

const files = []
for (const pkg of readdirSync(join(root, 'packages'))) {
  let entries = []
  try {
    entries = readdirSync(join(root, 'packages', pkg, 'bench'))
  } catch {
    continue
  }
  for (const f of entries.sort())
    if (f.endsWith('.bench.ts')) files.push(join('packages', pkg, 'bench', f))
}

const figures = []
for (const file of files.filter((f) => f.includes(filter))) {
  process.stderr.write(`running ${file}\n`)
  const { command, args } = keyringSessionCommand(process.execPath, ['--import', 'tsx', file])
  const run = spawnSync(command, args, {
    cwd: root,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  for (const line of run.stdout.split('\n')) {
    if (line.startsWith('@@bench ')) figures.push(JSON.parse(line.slice(8)))
    else if (line.trim()) process.stderr.write(`  ${line}\n`)
  }
  if (run.status !== 0) process.stderr.write(`  ${file} exited with ${run.status}\n`)
}

const fmt = (n) =>
  n >= 1e6
    ? `${(n / 1e6).toFixed(2)}M`
    : n >= 1e4
      ? `${(n / 1e3).toFixed(1)}k`
      : n >= 100
        ? n.toFixed(0)
        : n >= 1
          ? n.toFixed(2)
          : n.toPrecision(3)
const rows = [['group', 'figure', 'value', 'baseline', 'baseline value', 'ratio', 'goal']]
for (const f of figures) {
  let ratio = ''
  if (f.baseline && f.baseline.value > 0 && f.value > 0) {
    const r = f.higherIsBetter ? f.value / f.baseline.value : f.baseline.value / f.value
    const times = r >= 1 ? r : 1 / r
    ratio = `${times >= 100 ? times.toFixed(0) : times.toFixed(2)}× ${r >= 1 ? 'better' : 'worse'}`
  }
  rows.push([
    f.group,
    f.name,
    `${fmt(f.value)} ${f.unit}`,
    f.baseline?.name ?? '—',
    f.baseline ? `${fmt(f.baseline.value)} ${f.unit}` : '—',
    ratio || '—',
    f.goal ?? '',
  ])
}
const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)))
const line = (r) => `| ${r.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`
console.log(line(rows[0]))
console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`)
for (const r of rows.slice(1)) console.log(line(r))
console.log(
  `\nnode ${process.version}, ${process.platform}/${process.arch}; ratio = how many times better (or worse) the figure is than its baseline, same run`,
)

#!/usr/bin/env node
// npm run demo: a short narrated tour of keyward on its embedded defaults. Each step lives in
// scripts/demo/NN-name.mjs and exports `run(narrate)`; steps run in file order against the
// built packages (the demo builds them first).
import { spawnSync } from 'node:child_process'
import { readdirSync } from 'node:fs'

const root = new URL('..', import.meta.url).pathname
const built = spawnSync(
  new URL('../node_modules/.bin/turbo', import.meta.url).pathname,
  ['run', 'build', '--output-logs=errors-only'],
  {
    cwd: root,
    stdio: 'inherit',
  },
)
if (built.status !== 0) process.exit(built.status ?? 1)

const dir = new URL('./demo/', import.meta.url)
const steps = readdirSync(dir)
  .filter((f) => /^\d+-.*\.mjs$/.test(f))
  .sort()
for (const file of steps) {
  const step = await import(new URL(file, dir).href)
  console.log(`\n== ${step.title ?? file} ==`)
  await step.run((text) => console.log(`  ${text}`))
}
console.log('\nDone.')

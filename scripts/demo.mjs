#!/usr/bin/env node
// npm run demo: a short narrated tour of keyward on its embedded defaults. Each step lives in
// scripts/demo/NN-name.mjs and exports `run(narrate)`; steps run in file order against the
// built packages (the demo builds them first).
import { readdirSync } from 'node:fs'
import { buildPackages } from './build.mjs'

buildPackages()

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

// A child process of file-processes.test.ts: it opens the BUILT file driver (packages/core/dist)
// as another program would, with the key in KEYWARD_KEY, and writes. Not published.
//   node _file-worker.mjs write-many '{"path":…,"prefix":"p3","count":100}'
//   node _file-worker.mjs churn '{"path":…,"iteration":7,"keys":5}'   (one write, "ready", then writes until killed)

// KEYWARD_TEST_DIST: a snapshot of packages/core/dist the test took (so a rebuild during the
// run cannot pull it away); defaults to packages/core/dist itself.
import { pathToFileURL } from 'node:url'

const dist = process.env.KEYWARD_TEST_DIST
  ? pathToFileURL(`${process.env.KEYWARD_TEST_DIST}/`)
  : new URL('../../dist/', import.meta.url)
const { envKey } = await import(new URL('index.js', dist).href)
const { fileDriver } = await import(new URL('drivers/file.js', dist).href)

const [mode, json] = process.argv.slice(2)
const args = JSON.parse(json)
const driver = fileDriver({ path: args.path, key: envKey() })
const bytes = (text) => new TextEncoder().encode(text)

if (mode === 'write-many') {
  for (let i = 0; i < args.count; i++)
    await driver.set(`${args.prefix}/${i}`, bytes(`${args.prefix}-value-${i}`))
  await driver.close()
  process.stdout.write('done\n')
} else if (mode === 'churn') {
  await driver.set(`k${1 % args.keys}`, bytes(`it${args.iteration}-n1`))
  process.stdout.write('ready\n')
  for (let n = 2; ; n++) await driver.set(`k${n % args.keys}`, bytes(`it${args.iteration}-n${n}`))
} else {
  throw new Error(`unknown mode ${mode}`)
}

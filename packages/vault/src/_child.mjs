// Child process for the vault's cross-process tests. Imports the BUILT package by name, as a
// user would. Usage: node _child.mjs <op> <json args>; prints one `RESULT <json>` line.
import { existsSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { envKey } from '@keyward/core'
import { openVault } from '@keyward/vault'

const [op, json] = process.argv.slice(2)
const args = JSON.parse(json ?? process.env.CHILD_ARGS ?? '{}')
const result = (value) => process.stdout.write(`RESULT ${JSON.stringify(value)}\n`)
const open = () => openVault({ path: args.path, key: envKey('KEYWARD_KEY') })

try {
  if (op === 'update') {
    const vault = await open()
    await vault.secrets.get(args.id)
    result({ ready: true })
    while (!existsSync(args.go)) await sleep(2)
    try {
      const info = await vault.secrets.update(
        args.id,
        { value: args.value },
        { ifVersion: args.ifVersion },
      )
      result({ ok: true, version: info.version })
    } catch (error) {
      result({ ok: false, code: error.code })
    }
    await vault.close()
  } else if (op === 'create-collection') {
    const vault = await open()
    result({ ready: true })
    while (!existsSync(args.go)) await sleep(2)
    try {
      await vault.collections.create({ slug: args.slug })
      result({ ok: true })
    } catch (error) {
      result({ ok: false, code: error.code })
    }
    await vault.close()
  } else if (op === 'run') {
    const vault = await open()
    const outcome = await vault.run(args.run)
    await vault.close()
    result(outcome)
  } else if (op === 'open-default') {
    const vault = await openVault()
    await vault.collections.create({ slug: 'first' })
    await vault.close()
    result({ ok: true })
  }
} catch (error) {
  result({ ok: false, code: error?.code, message: error?.message })
}

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
  } else if (op === 'crash-create') {
    // Dies (SIGKILL) right after the secret's record is written, before the head is: the
    // crash window of a driver without an atomic setMany.
    const { fileDriver } = await import('@keyward/core/drivers/file')
    const inner = fileDriver({ path: args.path, key: envKey('KEYWARD_KEY') })
    const driver = {
      name: inner.name,
      durability: inner.durability,
      get: (key) => inner.get(key),
      list: (prefix) => inner.list(prefix),
      delete: (key, options) => inner.delete(key, options),
      withLock: (key, fn, options) => inner.withLock(key, fn, options),
      close: () => inner.close?.(),
      async set(key, value, options) {
        const out = await inner.set(key, value, options)
        if (key.startsWith('vault/s/')) process.kill(process.pid, 'SIGKILL')
        return out
      },
    }
    const vault = await openVault({ driver })
    await vault.secrets.create({ collection: 'app', name: args.name, value: args.value })
    result({ ok: true, survived: true })
  } else if (op === 'open-default') {
    const vault = await openVault()
    await vault.collections.create({ slug: 'first' })
    await vault.close()
    result({ ok: true })
  }
} catch (error) {
  result({ ok: false, code: error?.code, message: error?.message })
}

// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${secret.…} references are the subject of these tests
// Resolving references from a 10,000-secret vault (unlocked: decrypted snapshot in memory)
// against decrypting one AES-256-GCM record per reference, the cost a design that decrypts on
// every lookup pays; and `vault.run` (open the vault with its OS-keyring key, resolve, spawn,
// mask) against spawning the same child directly.
import { spawn } from 'node:child_process'
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { envKey, keyringKey } from '@keyward/core'
import { probeKeyring } from '@keyward/core/drivers/keyring'
import { memoryDriver } from '@keyward/core/drivers/memory'
import { substitute } from '@keyward/templating'
import { openVault } from '@keyward/vault'
import { medianMs, report } from '../../../scripts/bench-kit.js'

const GROUP = 'vault'
const dir = await mkdtemp(join(tmpdir(), 'keyward-vault-bench-'))

try {
  // ---- resolve N references from a 10,000-secret vault ----------------------------------
  const vault = await openVault({ driver: memoryDriver() })
  await vault.collections.create({ slug: 'big' })
  await vault.environments.create({ collection: 'big', slug: 'prod' })
  const ids: string[] = []
  for (let i = 0; i < 10_000; i++) {
    const { id } = await vault.secrets.create({
      collection: 'big',
      ...(i % 2 ? { environment: 'prod' } : {}),
      name: `SECRET_${i}`,
      value: `value-${i}-${randomBytes(12).toString('hex')}`,
    })
    ids.push(id)
  }
  // One record as the file driver stores it: AES-256-GCM over ~100 bytes of JSON.
  const key = randomBytes(32)
  const plaintext = Buffer.from(
    JSON.stringify({ name: 'SECRET_1', value: randomBytes(32).toString('hex') }),
  )
  const iv = randomBytes(12)
  const cipher = createCipheriv('aes-256-gcm', key, iv)
  const sealed = Buffer.concat([cipher.update(plaintext), cipher.final()])
  const tag = cipher.getAuthTag()
  const decryptOne = () => {
    const decipher = createDecipheriv('aes-256-gcm', key, iv)
    decipher.setAuthTag(tag)
    return Buffer.concat([decipher.update(sealed), decipher.final()])
  }
  const resolver = vault.resolver({ collection: 'big', environment: 'prod' })
  for (const n of [100, 1000]) {
    const template = Array.from({ length: n }, (_, i) =>
      i % 2 ? `\${secret.${ids[i * 7]!}}` : `\${secret.big/SECRET_${i * 7}}`,
    ).join(' ')
    const resolve = await medianMs(() => substitute(template, resolver), 21)
    const baseline = await medianMs(() => {
      for (let i = 0; i < n; i++) decryptOne()
    }, 21)
    report({
      group: GROUP,
      name: `resolve ${n} references, 10k-secret vault (warm)`,
      value: resolve,
      unit: 'ms',
      baseline: { name: `decrypt 1 record × ${n}`, value: baseline },
      higherIsBetter: false,
      ...(n === 100 ? { goal: '< 50 ms' } : {}),
    })
  }
  // Cold: a second vault instance on the same driver reads and decodes all 10k records first.
  const template100 = Array.from({ length: 100 }, (_, i) => `\${secret.big/SECRET_${i * 7}}`).join(
    ' ',
  )
  const coldDriver = memoryDriver()
  for (const k of await (
    vault as unknown as { driver: ReturnType<typeof memoryDriver> }
  ).driver.list())
    await coldDriver.set(
      k,
      (await (vault as unknown as { driver: ReturnType<typeof memoryDriver> }).driver.get(k))!
        .value,
    )
  const cold = await medianMs(async () => {
    const fresh = await openVault({ driver: coldDriver })
    await substitute(template100, fresh.resolver({ environment: 'prod' }))
  }, 5)
  report({
    group: GROUP,
    name: 'open + resolve 100 references, 10k-secret vault (cold)',
    value: cold,
    unit: 'ms',
    baseline: {
      name: 'decrypt 1 record × 10,000',
      value: await medianMs(() => {
        for (let i = 0; i < 10_000; i++) decryptOne()
      }, 5),
    },
    higherIsBetter: false,
  })
  await vault.close()

  // ---- vault.run overhead ------------------------------------------------------------
  const probe = await probeKeyring({ service: 'keyward-vault-bench-probe' })
  const service = `keyward-vault-bench-${randomBytes(4).toString('hex')}`
  const keyName = probe.available ? 'keyring' : 'env'
  const makeKey = () =>
    probe.available
      ? keyringKey({ service, account: 'vault-key', lockDir: dir })
      : envKey('K', { env: { K: randomBytes(32).toString('base64') } })
  const fixedKey = makeKey()
  const path = join(dir, 'run.kwd')
  const setup = await openVault({ path, key: fixedKey })
  await setup.collections.create({ slug: 'app' })
  for (let i = 0; i < 20; i++)
    await setup.secrets.create({
      collection: 'app',
      name: `S_${i}`,
      value: `secret-value-${i}-${randomBytes(8).toString('hex')}`,
    })
  await setup.close()
  const args = ['-e', 'process.stdout.write(String(Object.keys(process.env).length))']
  const direct = await medianMs(
    () =>
      new Promise<void>((resolve) => {
        const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] })
        child.stdout.resume()
        child.on('close', () => resolve())
      }),
    15,
  )
  const viaVault = await medianMs(async () => {
    const v = await openVault({
      path,
      key: probe.available ? keyringKey({ service, account: 'vault-key', lockDir: dir }) : fixedKey,
    })
    await v.run({
      collection: 'app',
      command: process.execPath,
      args,
      stdout: new PassThrough().resume(),
      stderr: new PassThrough().resume(),
    })
    await v.close()
  }, 15)
  report({
    group: GROUP,
    name: `vault.run incl. open with ${keyName} key (20 secrets, masked)`,
    value: viaVault,
    unit: 'ms',
    baseline: { name: 'spawn the same child directly', value: direct },
    higherIsBetter: false,
    goal: '< baseline + 100 ms',
  })
  if (probe.available) {
    const native = (await import('@napi-rs/keyring')) as unknown as {
      AsyncEntry: new (s: string, a: string) => { deletePassword(): Promise<boolean> }
    }
    await new native.AsyncEntry(service, 'vault-key').deletePassword().catch(() => false)
  } else
    process.stderr.write(`no OS keyring here (${probe.code}); the run figure uses an env key\n`)
} finally {
  await rm(dir, { recursive: true, force: true })
}

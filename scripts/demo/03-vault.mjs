// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${secret.…} references are what the demo shows
// Demo step 3: a vault on the embedded defaults (an encrypted file; here the key comes from an
// environment variable so the demo needs no OS keyring): one codebase against dev and prod,
// a composed secret, and `run` of a child whose output is masked. Prints no secret.
import { randomBytes } from 'node:crypto'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { envKey } from '@keyward/core'
import { openVault } from '@keyward/vault'

export const title = 'vault: dev and prod from one codebase, composed secrets, masked run'

export async function run(narrate) {
  const dir = await mkdtemp(join(tmpdir(), 'keyward-demo-vault-'))
  try {
    const path = join(dir, 'vault.kwd')
    // A host reads KEYWARD_KEY from its environment; the demo makes a throwaway one.
    const key = envKey('KEYWARD_KEY', { env: { KEYWARD_KEY: randomBytes(32).toString('base64') } })
    const vault = await openVault({ path, key })
    narrate(`opened a vault at ${path} (encrypted file, key from KEYWARD_KEY)`)

    await vault.collections.create({ slug: 'my-saas' })
    await vault.environments.create({ collection: 'my-saas', slug: 'dev' })
    await vault.environments.create({ collection: 'my-saas', slug: 'prod' })
    const devPassword = `dev-${randomBytes(9).toString('hex')}`
    const prodPassword = `prod-${randomBytes(9).toString('hex')}`
    await vault.secrets.create({
      collection: 'my-saas',
      environment: 'dev',
      name: 'DB_PASSWORD',
      value: devPassword,
    })
    await vault.secrets.create({
      collection: 'my-saas',
      environment: 'prod',
      name: 'DB_PASSWORD',
      value: prodPassword,
    })
    await vault.secrets.create({
      collection: 'my-saas',
      name: 'DATABASE_URL',
      value: 'postgres://app:${secret.DB_PASSWORD}@db.internal/app',
    })
    narrate('collection my-saas with environments dev and prod; DB_PASSWORD per environment;')
    narrate(
      'DATABASE_URL is untagged and composed: postgres://app:${secret.DB_PASSWORD}@db.internal/app',
    )

    const listed = await vault.secrets.list({ collection: 'my-saas', environment: 'prod' })
    narrate(
      `list (metadata only) for prod: ${listed.map((s) => `${s.name} (${s.environment ?? 'untagged'}, v${s.version})`).join(', ')}`,
    )

    const dev = await vault.resolveEnvironment({ collection: 'my-saas', environment: 'dev' })
    const prod = await vault.resolveEnvironment({ collection: 'my-saas', environment: 'prod' })
    narrate(
      `resolveEnvironment: dev's DATABASE_URL holds dev's password: ${dev.DATABASE_URL.includes(devPassword)}; prod's holds prod's: ${prod.DATABASE_URL.includes(prodPassword)}`,
    )

    let output = ''
    const capture = new Writable({
      write(chunk, _encoding, done) {
        output += chunk
        done()
      },
    })
    const script =
      "for (const c of 'child sees DATABASE_URL=' + process.env.DATABASE_URL) process.stdout.write(c); console.log()"
    const result = await vault.run({
      collection: 'my-saas',
      environment: 'prod',
      command: process.execPath,
      args: ['-e', script],
      stdout: capture,
    })
    narrate(
      `vault.run of a child that prints its secret one character per write (exit code ${result.exitCode}):`,
    )
    narrate(`  ${output.trim()}`)
    const leaked = [prodPassword, devPassword].some((s) => output.includes(s))
    narrate(`the password appears in the child's masked output: ${leaked}`)

    const raw = await readFile(path)
    const inFile = [prodPassword, 'DATABASE_URL', 'my-saas'].filter((s) =>
      raw.includes(Buffer.from(s)),
    )
    narrate(
      `the vault file is ${raw.byteLength} bytes; plaintext values, names or slugs found in it: ${inFile.length}`,
    )
    await vault.close()
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

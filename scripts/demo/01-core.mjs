// Demo step 1: keep secrets in an encrypted file through @keyward/core on the embedded
// default (the file driver), with the key from an environment variable. Prints no secret.
import { randomBytes } from 'node:crypto'
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { envKey, KeywardError } from '@keyward/core'
import { fileDriver } from '@keyward/core/drivers/file'

/** The KeywardError `promise` rejects with; the demo stops if it does not fail. */
async function failure(promise) {
  const error = await promise.then(
    () => new Error('expected this to fail'),
    (e) => e,
  )
  if (!KeywardError.isInstance(error)) throw error
  return error
}

export const title = 'core: an encrypted file store on the embedded default'

export async function run(narrate) {
  const dir = await mkdtemp(join(tmpdir(), 'keyward-demo-'))
  try {
    const path = join(dir, 'secrets.kw')
    // A host would read KEYWARD_KEY from its environment (`openssl rand -base64 32`); the demo
    // makes a throwaway one and never prints it.
    const env = { KEYWARD_KEY: randomBytes(32).toString('base64') }
    const store = fileDriver({ path, key: envKey('KEYWARD_KEY', { env }) })
    narrate(`opened a file store at ${path} (key from KEYWARD_KEY; the file does not exist yet)`)

    const secret = `ghp_demo_${randomBytes(12).toString('hex')}`
    const encode = (text) => new TextEncoder().encode(text)
    await store.set('github/default/token', encode(secret))
    await store.set('openai/default/api-key', encode(`sk-demo-${randomBytes(12).toString('hex')}`))
    const { version } = await store.set('github/default/token', encode(`${secret}-rotated`))
    narrate(`stored 2 secrets; rotating the GitHub token made it version ${version}`)

    const stored = await store.get('github/default/token')
    const matches = new TextDecoder().decode(stored.value) === `${secret}-rotated`
    narrate(
      `read it back: ${stored.value.byteLength} bytes, version ${stored.version}, matches what was written: ${matches}`,
    )
    narrate(`console.log of what get() returned shows: ${JSON.stringify(stored)}`)
    narrate(
      `list('github/') → ${JSON.stringify(await store.list('github/'))}; list() → ${(await store.list()).length} keys`,
    )

    const raw = await readFile(path)
    const mode = ((await stat(path)).mode & 0o777).toString(8)
    const leaks = [secret, 'github/default/token', 'openai'].filter((s) =>
      raw.includes(Buffer.from(s)),
    )
    narrate(
      `the file is ${raw.byteLength} bytes, mode ${mode}; plaintext values or key names found in it: ${leaks.length}`,
    )
    await store.close()

    const wrong = fileDriver({
      path,
      key: envKey('KEYWARD_KEY', { env: { KEYWARD_KEY: randomBytes(32).toString('base64') } }),
    })
    await wrong.get('github/default/token').catch((error) => {
      if (!KeywardError.isInstance(error)) throw error
      narrate(
        `opening it with another key fails with ${error.code}; nothing is decrypted or overwritten`,
      )
    })

    const flipped = Buffer.from(raw)
    flipped[raw.byteLength - 40] ^= 0x01
    await writeFile(path, flipped)
    const tampered = await failure(
      fileDriver({ path, key: envKey('KEYWARD_KEY', { env }) }).get('github/default/token'),
    )
    narrate(
      `one flipped bit in the file is detected: ${tampered.code} (${tampered.details.reason})`,
    )
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

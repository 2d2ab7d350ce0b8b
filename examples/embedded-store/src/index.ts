// A host that keeps secrets in keyward's encrypted file store. The key comes from the OS keyring
// where one works, from KEYWARD_KEY when it is set (servers, CI), and from a passphrase otherwise.
import { envKey, type KeyProvider, KeywardError, keyringKey, passphraseKey } from '@keyward/core'
import { fileDriver } from '@keyward/core/drivers/file'
import { probeKeyring } from '@keyward/core/drivers/keyring'

async function chooseKey(): Promise<KeyProvider> {
  if (process.env.KEYWARD_KEY) return envKey('KEYWARD_KEY')
  if ((await probeKeyring()).available) return keyringKey({ service: 'embedded-store-example' })
  const passphrase = process.env.EXAMPLE_PASSPHRASE
  if (!passphrase) throw new Error('no keyring here: set KEYWARD_KEY or EXAMPLE_PASSPHRASE')
  return passphraseKey(passphrase)
}

const driver = fileDriver({
  path: process.argv[2] ?? './example-store.kwd',
  key: await chooseKey(),
})
try {
  const previous = await driver.get('runs')
  const runs = Number(previous ? new TextDecoder().decode(previous.value) : '0') + 1
  await driver.set('runs', new TextEncoder().encode(String(runs)), {
    ifVersion: previous?.version ?? 0,
  })
  console.log(
    `this store has been opened ${runs} time(s); keys: ${(await driver.list()).join(', ')}`,
  )
} catch (error) {
  if (KeywardError.isInstance(error)) console.error(`${error.code}: ${error.message}`)
  else throw error
}

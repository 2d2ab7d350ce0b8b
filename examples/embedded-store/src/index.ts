// A host that keeps secrets in keyward's encrypted file store. The key follows keyward's one
// policy, defaultKey(): KEYWARD_KEY when it is set (servers, CI), else the OS keyring; with
// neither, opening the store fails with KEYWARD_KEY_MISSING and the fix.
import { defaultKey, KeywardError } from '@keyward/core'
import { fileDriver } from '@keyward/core/drivers/file'

const driver = fileDriver({
  path: process.argv[2] ?? './example-store.kwd',
  key: defaultKey({ service: 'embedded-store-example' }),
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
} finally {
  await driver.close?.()
}

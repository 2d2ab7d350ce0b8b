// A git credential helper backed by a vault, for the real `git credential fill` test.
// git runs it as `node _git-helper.mjs <operation>`, with the vault's path and collection in
// the environment.
import { envKey } from '@keyward/core'
import { gitCredentialHelper, openVault } from '@keyward/vault'

const vault = await openVault({ path: process.env.VAULT_PATH, key: envKey('KEYWARD_KEY') })
const helper = gitCredentialHelper({ vault, collection: process.env.VAULT_COLLECTION })
await helper(process.argv[2] ?? 'get', process.stdin, process.stdout)
await vault.close()

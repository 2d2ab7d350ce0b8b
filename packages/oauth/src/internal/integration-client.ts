import { KEYWARD_INVALID_ARGUMENT, KeywardError, type SecretSource } from '@keyward/core'
import { KEYWARD_INTEGRATION_SECRET_MISSING } from '../codes.js'
import type { IntegrationClient } from '../integrations-types.js'
import type { OAuthClient } from '../protocol.js'

const REFERENCE = /^@(env|secret):([A-Za-z_][A-Za-z0-9_.\-/]{0,127})$/

/** `KEYWARD_INVALID_ARGUMENT` naming the option at fault (`details.field`). */
export function invalid(field: string, message: string): KeywardError {
  return new KeywardError(KEYWARD_INVALID_ARGUMENT, `option \`${field}\` ${message}`, {
    details: { field },
  })
}

/**
 * Checks an integration's client at construction: the secret must be an `@env:`/`@secret:`
 * reference (never a literal in code), `@secret:` needs a `secrets` source.
 */
export function checkIntegrationClient(
  client: unknown,
  field: string,
  secrets: SecretSource | undefined,
): asserts client is IntegrationClient {
  if (typeof client !== 'object' || client === null) throw invalid(field, 'must be an object')
  const { clientId, clientSecret } = client as { clientId?: unknown; clientSecret?: unknown }
  if (typeof clientId !== 'string' || clientId === '')
    throw invalid(`${field}.clientId`, 'must be a non-empty string or an @env:/@secret: reference')
  if (clientId.startsWith('@')) checkReference(clientId, `${field}.clientId`, secrets)
  if (clientSecret === undefined) return
  if (typeof clientSecret !== 'string' || !clientSecret.startsWith('@'))
    throw invalid(
      `${field}.clientSecret`,
      'must be a reference (`@env:NAME` or `@secret:NAME`): client secrets come from the environment or the vault, never from code',
    )
  checkReference(clientSecret, `${field}.clientSecret`, secrets)
}

function checkReference(value: string, field: string, secrets: SecretSource | undefined): void {
  const match = REFERENCE.exec(value)
  if (match === null)
    throw invalid(field, 'must be `@env:NAME` or `@secret:NAME` (letters, digits, `_.-/`)')
  if (match[1] === 'secret' && secrets === undefined)
    throw invalid(field, 'is an @secret: reference but no `secrets` source was given')
}

/** Resolves a checked client's references: `@env:` from `process.env`, `@secret:` from `secrets`. */
export async function resolveIntegrationClient(
  client: IntegrationClient,
  secrets: SecretSource | undefined,
  integration: string,
): Promise<OAuthClient> {
  const wanted: string[] = []
  for (const value of [client.clientId, client.clientSecret]) {
    const match = value === undefined ? null : REFERENCE.exec(value)
    if (match?.[1] === 'secret' && match[2] !== undefined) wanted.push(match[2])
  }
  const fromVault =
    wanted.length > 0 && secrets !== undefined ? await secrets.resolve(wanted) : new Map()
  const read = (value: string, field: string): string => {
    const match = REFERENCE.exec(value)
    if (match === null) return value
    const [, kind, name = ''] = match
    const resolved = kind === 'env' ? process.env[name] : fromVault.get(name)
    if (typeof resolved !== 'string' || resolved === '')
      throw new KeywardError(
        KEYWARD_INTEGRATION_SECRET_MISSING,
        `integration \`${integration}\`: ${field} ${value} resolved to nothing; set it in the ${kind === 'env' ? 'environment' : 'secrets source'}`,
        { details: { integration, field, reference: value } },
      )
    return resolved
  }
  return {
    clientId: read(client.clientId, 'clientId'),
    ...(client.clientSecret === undefined
      ? {}
      : { clientSecret: read(client.clientSecret, 'clientSecret') }),
  }
}

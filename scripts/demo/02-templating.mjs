// Demo step 2: an agent's tool call carries a reference, the host substitutes the value with an
// in-memory resolver, and the tool's output — which echoes the secret and its base64 — is
// redacted before anyone sees it. Prints only redacted text, never the value.
import { randomBytes } from 'node:crypto'
import { createRedactor, lintTemplate, substitute } from '@keyward/templating'

export const title = 'templating: use a secret without seeing it'

export async function run(narrate) {
  const values = new Map([
    ['${secret.github.token}', `ghp_demo_${randomBytes(12).toString('hex')}`],
  ])
  let calls = 0
  const resolver = async (refs) => {
    calls++
    return new Map(refs.map((ref) => [ref.raw, values.get(ref.raw) ?? { error: 'not_found' }]))
  }

  const command =
    'curl -H "Authorization: Bearer ${secret.github.token}" https://api.github.com/user # ${HOME} stays'
  const lint = lintTemplate(command)
  narrate(`the agent wrote: ${command}`)
  narrate(
    `lintTemplate: ${lint.references.length} reference (${lint.references[0].raw}), ${lint.problems.length} problems`,
  )

  const redactor = createRedactor()
  const resolved = await substitute(command, resolver, { redactor })
  narrate(
    `substituted with ${calls} resolver call; the resolved command is ${resolved.length} characters (not shown)`,
  )

  const secret = values.get('${secret.github.token}')
  const output = `debug: sent header Bearer ${secret}\nbasic auth: ${Buffer.from(`x:${secret}\n`).toString('base64')}\n`
  const stream = redactor.transform()
  const writer = stream.writable.getWriter()
  const bytes = new TextEncoder().encode(output)
  // Deliver the tool's output 7 bytes at a time: values split across chunks are still masked.
  const writing = (async () => {
    for (let i = 0; i < bytes.length; i += 7) await writer.write(bytes.subarray(i, i + 7))
    await writer.close()
  })()
  let redacted = ''
  for await (const part of stream.readable) redacted += part
  await writing
  for (const line of redacted.trimEnd().split('\n')) narrate(`tool output, redacted: ${line}`)
  narrate(
    `the value appears in the redacted output: ${redacted.includes(secret) ? 'YES (bug)' : 'no'}`,
  )

  try {
    await substitute('${secret.github.token} ${secret.nope}', resolver)
  } catch (error) {
    narrate(`a broken reference fails the whole call: ${error.code}: ${error.message}`)
  }
}

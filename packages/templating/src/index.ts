/**
 * `@keyward/templating`: let agents, plugins and configs use a credential without seeing it.
 * They write `${secret.<id>.<field>}`; the host substitutes the value at the last moment with
 * {@link substitute} (batched, all or nothing), and scrubs whatever comes back with a
 * {@link createRedactor | redactor} (values and their encodings, streaming-safe).
 *
 * @example
 * ```ts
 * import { createRedactor, substitute } from '@keyward/templating'
 *
 * const redactor = createRedactor()
 * const command = await substitute(
 *   'curl -H "Authorization: Bearer ${secret.api.token}" https://api.example.com',
 *   async (refs) => new Map(refs.map((ref) => [ref.raw, 'tok_exampleexample'])),
 *   { redactor },
 * )
 * redactor.redact('echo tok_exampleexample') // 'echo ${secret.api.token}'
 * ```
 * @module
 */
export * from './errors.js'
export { MAX_JSON_DEPTH, MAX_SEGMENT_LENGTH } from './limits.js'
export {
  createRedactor,
  ENCODERS,
  type Encoder,
  type EncoderName,
  type RedactionEntry,
  type Redactor,
  type RedactorOptions,
} from './redact.js'
export {
  type JsonPath,
  type LocatedReference,
  lintTemplate,
  parseReferences,
  type Reference,
  type ReferenceOptions,
  type TemplateLint,
  type TemplateProblem,
} from './references.js'
export {
  type FailureReason,
  type ReferenceFailure,
  type Resolution,
  type Resolver,
  type SubstituteEncoding,
  type SubstituteOptions,
  substitute,
} from './substitute.js'

import * as v from 'valibot'

/**
 * Optional object entries, one per name, each checked by `schema(name)` — so a field's name is
 * written once and its error message names that same field. Entries keep the order of `names`
 * (valibot reports the first failing field in entry order).
 */
export function optionalFields<const K extends string, S extends v.GenericSchema>(
  names: readonly K[],
  schema: (field: K) => S,
): { readonly [P in K]: v.OptionalSchema<S, undefined> } {
  return Object.fromEntries(names.map((name) => [name, v.optional(schema(name))])) as {
    readonly [P in K]: v.OptionalSchema<S, undefined>
  }
}

/** A parsed JSON path: property names and array indexes. */
export type PathSegment = string | number

const SEGMENT = /^(?:[A-Za-z_$][\w$-]*|\[\d+\])/

/**
 * Parses the small JSON path dialect of provider definitions: `id`, `data.user.id`,
 * `$.emails[0].value`. Returns `undefined` for anything else.
 */
export function parseJsonPath(path: string): PathSegment[] | undefined {
  let rest = path.startsWith('$.') ? path.slice(2) : path.startsWith('$[') ? path.slice(1) : path
  if (rest === '') return undefined
  const out: PathSegment[] = []
  while (rest !== '') {
    const match = SEGMENT.exec(rest)
    if (match === null) return undefined
    const token = match[0]
    out.push(token.startsWith('[') ? Number(token.slice(1, -1)) : token)
    rest = rest.slice(token.length)
    if (rest.startsWith('.')) {
      rest = rest.slice(1)
      if (rest === '' || rest.startsWith('[')) return undefined
    } else if (rest !== '' && !rest.startsWith('[')) return undefined
  }
  return out
}

/** Reads a value at a parsed path; own properties only (never the prototype chain). */
export function readJsonPath(value: unknown, path: readonly PathSegment[]): unknown {
  let current = value
  for (const segment of path) {
    if (typeof segment === 'number') {
      if (!Array.isArray(current)) return undefined
      current = current[segment]
    } else {
      if (typeof current !== 'object' || current === null || Array.isArray(current))
        return undefined
      if (!Object.hasOwn(current, segment)) return undefined
      current = (current as Record<string, unknown>)[segment]
    }
  }
  return current
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

/** True when `text` has no lone surrogate and no NUL (so it survives UTF-8 and C strings). */
export function isWellFormedText(text: string): boolean {
  return !LONE_SURROGATE.test(text) && !text.includes('\0')
}

/** True when `text` contains a C0 control character other than tab and newline, or DEL. */
export function hasControlCharacters(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if ((c < 0x20 && c !== 0x09 && c !== 0x0a) || c === 0x7f) return true
  }
  return false
}

import { Readable } from 'node:stream'
import { text as streamText } from 'node:stream/consumers'
import { KEYWARD_INVALID_ARGUMENT } from '@keyward/core'
import { expectKeywardError, expectNoLeak, recordingLogger } from '@keyward/core/testing'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { createRedactor, type RedactionEntry, type Redactor } from './redact.js'

const utf8 = new TextEncoder()

/** Splits `bytes` at the given (sorted, deduplicated) offsets. */
function _split(bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => Math.min(c, bytes.length)))].sort((a, b) => a - b)
  const out: Uint8Array[] = []
  let last = 0
  for (const p of [...points, bytes.length]) {
    if (p > last) out.push(bytes.subarray(last, p))
    last = Math.max(last, p)
  }
  return out
}

async function _viaWeb(redactor: Redactor, chunks: readonly (Uint8Array | string)[]) {
  const source = new ReadableStream<Uint8Array | string>({
    start(controller) {
      for (const c of chunks) controller.enqueue(c)
      controller.close()
    },
  })
  let out = ''
  const parts: string[] = []
  for await (const part of source.pipeThrough(redactor.transform())) {
    parts.push(part)
    out += part
  }
  return { out, parts }
}

async function _viaNode(redactor: Redactor, chunks: readonly (Uint8Array | string)[]) {
  return streamText(
    Readable.from(
      chunks.map((c) => (typeof c === 'string' ? c : Buffer.from(c))),
      { objectMode: false },
    ).pipe(redactor.nodeTransform()),
  )
}

/**
 * The node transform's output for byte `chunks`, its bytes decoded as they are (stream/consumers'
 * text(), which `_viaNode` uses, would drop a leading BOM of the output).
 */
async function _viaNodeBytes(redactor: Redactor, chunks: readonly Uint8Array[]): Promise<string> {
  const out: Buffer[] = []
  for await (const part of Readable.from(chunks.map((c) => Buffer.from(c))).pipe(
    redactor.nodeTransform(),
  ))
    out.push(part as Buffer)
  return Buffer.concat(out).toString('utf8')
}

/** The base64 characters of `value` that do not depend on the bytes around it, at offset k. */
function _base64Core(value: string, k: number, url = false): string {
  const bytes = Buffer.concat([Buffer.alloc(k, 0x41), Buffer.from(value), Buffer.from('!!')])
  const encoded = bytes.toString(url ? 'base64url' : 'base64')
  const n = Buffer.byteLength(value)
  return encoded.slice(Math.ceil((8 * k) / 6), Math.floor((8 * (k + n)) / 6))
}

const SECRET = 'sk_live_4eC39HqLyjWDarjtT1zdp7dc'

describe('createRedactor: one-shot', () => {
  it('masks a value with its label', () => {
    const r = createRedactor([{ value: SECRET, label: '${secret.stripe}' }])
    expect(r.redact(`key=${SECRET}; again ${SECRET}.`)).toBe(
      'key=${secret.stripe}; again ${secret.stripe}.',
    )
    expect(r.redact('nothing here')).toBe('nothing here')
    expect(r.redact('')).toBe('')
  })

  it('prefix-overlapping secrets leave no tail (leftmost-longest)', () => {
    const r = createRedactor([
      { value: 'abcdefgh12', label: '<short>' },
      { value: 'abcdefgh12345678', label: '<long>' },
    ])
    expect(r.redact('x abcdefgh12345678 y abcdefgh12 z')).toBe('x <long> y <short> z')
    // Registered in the other order, the same result.
    const r2 = createRedactor([
      { value: 'abcdefgh12345678', label: '<long>' },
      { value: 'abcdefgh12', label: '<short>' },
    ])
    expect(r2.redact('abcdefgh12345678abcdefgh12')).toBe('<long><short>')
  })

  it('merges overlapping matches into one span', () => {
    const r = createRedactor([
      { value: 'alpha-bravo', label: '<A>' },
      { value: 'bravo-charlie', label: '<B>' },
      { value: 'xx-alpha-bravo-charlie-yy', label: '<C>' },
    ])
    expect(r.redact('1 alpha-bravo-charlie 2')).toBe('1 <A><B> 2')
    // A value inside a longer one adds no label.
    expect(r.redact('xx-alpha-bravo-charlie-yy')).toBe('<C>')
  })

  it('base64(secret + "\\n") is masked, at every byte alignment, standard and url', () => {
    const r = createRedactor([{ value: SECRET, label: '<S>' }])
    const withNewline = Buffer.from(`${SECRET}\n`).toString('base64')
    const out = r.redact(`echo ${withNewline}`)
    expect(out).toMatch(/^echo <S>[A-Za-z0-9+/=]{0,4}$/)
    for (const k of [0, 1, 2]) {
      for (const url of [false, true]) {
        const blob = Buffer.concat([Buffer.alloc(k, 7), Buffer.from(SECRET), Buffer.from('\n')])
        const text = `data: ${blob.toString(url ? 'base64url' : 'base64')} end`
        const redacted = r.redact(text)
        expect(redacted).toContain('<S>')
        expect(redacted).not.toContain(_base64Core(SECRET, k, url))
      }
    }
  })

  it('masks URL-encoded, JSON-escaped and hex forms', () => {
    const value = 'p@ss w/"quoted"\\é'
    const r = createRedactor([{ value, label: '<P>' }])
    const forms = [
      encodeURIComponent(value),
      encodeURIComponent(value).replace(/%20/g, '+'),
      JSON.stringify(value).slice(1, -1),
      JSON.stringify(value).slice(1, -1).replace('é', '\\u00e9'),
      Buffer.from(value).toString('hex'),
      Buffer.from(value).toString('hex').toUpperCase(),
    ]
    for (const form of forms) expect(r.redact(`[${form}]`)).toBe('[<P>]')
    expect(r.redact(JSON.stringify({ password: value }))).toBe('{"password":"<P>"}')
  })

  it('runs only the encoders it is given', () => {
    const hex = Buffer.from(SECRET).toString('hex')
    const b64 = Buffer.from(SECRET).toString('base64')
    const r = createRedactor([{ value: SECRET, label: '<S>' }], { encoders: ['hex'] })
    expect(r.redact(`${hex} ${b64}`)).toBe(`<S> ${b64}`)
    const none = createRedactor([{ value: SECRET, label: '<S>' }], { encoders: [] })
    expect(none.patterns).toBe(1)
    const custom = createRedactor([{ value: SECRET, label: '<S>' }], {
      encoders: [(v) => [[...v].reverse().join('')]],
    })
    expect(custom.redact([...SECRET].reverse().join(''))).toBe('<S>')
  })

  it('a PEM key is masked whole, and its long lines on their own', () => {
    const body = Array.from({ length: 4 }, (_, i) =>
      Buffer.from(`line-${i}-`.repeat(8)).toString('base64').slice(0, 64),
    )
    const pem = ['-----BEGIN PRIVATE KEY-----', ...body, '-----END PRIVATE KEY-----'].join('\n')
    const r = createRedactor([{ value: pem, label: '<KEY>' }])
    expect(r.redact(`key:\n${pem}\nok`)).toBe('key:\n<KEY>\nok')
    expect(r.redact(`crlf:\r\n${pem.replace(/\n/g, '\r\n')}`)).toBe('crlf:\r\n<KEY>')
    expect(r.redact(JSON.stringify({ pem }))).toBe('{"pem":"<KEY>"}')
    // One line of the body leaks on its own (a log that wrapped the key): still masked.
    expect(r.redact(`partial ${body[2]} end`)).toBe('partial <KEY> end')
    // The header line is long enough to mask and is masked too: it is part of the value.
    expect(r.redact('-----END PRIVATE KEY-----')).toBe('<KEY>')
  })

  it('a value `true` is not masked, and the warning names the label, never the value', () => {
    const logger = recordingLogger()
    const r = createRedactor(
      [
        { value: 'true', label: '${secret.flag}' },
        { value: 'tiny', label: '${secret.tiny}' },
        { value: 'changeme', label: '${secret.default}' },
        { value: '123456', label: '${secret.pin}' },
        { value: 'zzzzzzzzzz', label: '${secret.z}' },
        { value: 'NotOnMyList!', label: '${secret.mine}' },
      ],
      { minLength: 4, logger, denylist: ['notonmylist!'] },
    )
    expect(r.redact('true tiny changeme 123456 zzzzzzzzzz NotOnMyList!')).toBe(
      'true ${secret.tiny} changeme 123456 zzzzzzzzzz NotOnMyList!',
    )
    expect(logger.lines).toHaveLength(5)
    expect(logger.text()).toContain('${secret.flag}')
    for (const v of ['true', 'changeme', '123456', 'zzzzzzzzzz', 'NotOnMyList!']) {
      for (const line of logger.lines) {
        expect(line.text.replace(/\$\{secret\.[a-z]+\}/g, '')).not.toContain(v)
      }
    }
    const strict = recordingLogger()
    createRedactor([{ value: 'qzv9', label: 'L' }], { logger: strict })
    expect(strict.lines[0]?.text).toMatch(/shorter than 8/)
    expectNoLeak(strict.lines, ['qzv9'])
  })

  it('entries can be added live, to a running stream too', async () => {
    const r = createRedactor()
    expect(r.redact(SECRET)).toBe(SECRET)
    r.add({ value: SECRET, label: '<S>' })
    expect(r.redact(SECRET)).toBe('<S>')
    const s = r.transform()
    const writer = s.writable.getWriter()
    const reader = s.readable.getReader()
    const late = 'late-value-0123456789'
    void writer.write(`a ${late} `)
    expect((await reader.read()).value).toBe(`a ${late} `)
    r.add({ value: late, label: '<L>' })
    void writer.write(`b ${late} ${SECRET}`)
    void writer.close()
    let rest = ''
    for (;;) {
      const { value, done } = await reader.read()
      if (done) break
      rest += value
    }
    expect(rest).toBe('b <L> <S>')
  })

  it('validates entries and options eagerly, naming them, without echoing values', async () => {
    const cases: [() => unknown, RegExp][] = [
      [() => createRedactor([], { minLength: 3 }), /minLength/],
      [() => createRedactor([], { minLength: 8.5 }), /minLength/],
      [() => createRedactor([], { encoders: ['rot13' as never] }), /encoders\[0\]/],
      [() => createRedactor([], { denylist: [1 as never] }), /denylist/],
      [() => createRedactor([], { logger: {} as never }), /logger/],
      [() => createRedactor([{ value: 5, label: 'x' } as never]), /entries\[0\]\.value/],
      [() => createRedactor([{ value: 'abcdefghij' } as never]), /entries\[0\]\.label/],
      [() => createRedactor().add(null as never), /entry/],
      [() => createRedactor().redact(5 as never), /text/],
      [
        () =>
          createRedactor([{ value: 'SECRETVALUE1', label: 'x' }], {
            encoders: [() => 'x' as never],
          }),
        /custom encoder/,
      ],
    ]
    for (const [fn, message] of cases) {
      const error = await expectKeywardError(fn, KEYWARD_INVALID_ARGUMENT)
      expect(error.message).toMatch(message)
      expectNoLeak(error, ['SECRETVALUE1'])
    }
  })
})

describe('createRedactor: streams', () => {
  const entries: RedactionEntry[] = [
    { value: SECRET, label: '<S>' },
    { value: 'pässwörd-😀-ünïcode', label: '<U>' },
  ]
  const text = `start ${SECRET} mid ${Buffer.from(SECRET).toString('base64')} pässwörd-😀-ünïcode end ${SECRET}`

  it('a secret split at every possible boundary is still replaced (bytes and strings)', async () => {
    const r = createRedactor(entries)
    const expected = r.redact(text)
    // 32 bytes: the last base64 character and the padding depend on what follows.
    expect(expected).toBe(`start <S> mid <S>M= <U> end <S>`)
    const bytes = utf8.encode(text)
    for (let cut = 0; cut <= bytes.length; cut++) {
      const { out } = await _viaWeb(r, _split(bytes, [cut]))
      expect(out).toBe(expected)
    }
    for (let cut = 0; cut <= text.length; cut++) {
      const { out } = await _viaWeb(r, [text.slice(0, cut), text.slice(cut)])
      expect(out).toBe(expected)
    }
  })

  it('a secret split across three chunks, at every pair of boundaries', async () => {
    // The held-back text and the chunk after it are scanned without joining them: this
    // covers a middle chunk of every length around the longest pattern.
    const r = createRedactor([{ value: SECRET, label: '<S>' }], { encoders: [] })
    const text = `ab ${SECRET.slice(0, 9)} ${SECRET}${SECRET} x${SECRET.slice(0, 12)}`
    const expected = r.redact(text)
    expect(expected).toBe(`ab ${SECRET.slice(0, 9)} <S><S> x${SECRET.slice(0, 12)}`)
    for (let a = 0; a <= text.length; a++) {
      for (let b = a; b <= text.length; b++) {
        const { out } = await _viaWeb(r, [text.slice(0, a), text.slice(a, b), text.slice(b)])
        expect(out).toBe(expected)
      }
    }
  })

  it('one byte per chunk gives the one-shot output, web and node', async () => {
    const r = createRedactor(entries)
    const bytes = utf8.encode(text)
    const chunks = Array.from(bytes, (b) => Uint8Array.of(b))
    expect((await _viaWeb(r, chunks)).out).toBe(r.redact(text))
    expect(await _viaNode(r, chunks)).toBe(r.redact(text))
  })

  it('keeps a U+FEFF that follows an unfinished byte across a chunk boundary (Node 24 TextDecoder stream bug)', async () => {
    const r = createRedactor([{ value: 'a-secret-value', label: '[s]' }])
    const chunks = [
      Uint8Array.of(0xc3),
      Uint8Array.of(0xef, 0xbb, 0xbf),
      utf8.encode('a-secret-value'),
    ]
    const expected = '\ufffd\ufeff[s]'
    expect((await _viaWeb(r, chunks)).out).toBe(expected)
    expect(await _viaNodeBytes(r, chunks)).toBe(expected)
    // A BOM that starts the stream is dropped, as TextDecoder drops it, even when split.
    expect((await _viaWeb(r, [Uint8Array.of(0xef), Uint8Array.of(0xbb, 0xbf, 0x41)])).out).toBe('A')
  })

  it('decodes any bytes split anywhere as TextDecoder does: BOM, invalid and split UTF-8, ASCII runs', async () => {
    const r = createRedactor(entries)
    const secret = utf8.encode(SECRET)
    // Byte pieces: ASCII runs (decoded on a fast path), multi-byte characters, a BOM, stray
    // continuation bytes, truncated sequences and the secret, in any order and chunking.
    const piece = fc.constantFrom(
      utf8.encode('plain ascii text '),
      utf8.encode('é😀ü'),
      Uint8Array.of(0xef, 0xbb, 0xbf),
      Uint8Array.of(0x80),
      Uint8Array.of(0xf0, 0x9f),
      Uint8Array.of(0xc3),
      Uint8Array.of(0xff, 0xfe),
      Uint8Array.of(0x0a),
      secret,
    )
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(piece, fc.boolean()), { maxLength: 12 }),
        fc.array(fc.nat(200), { maxLength: 6 }),
        async (pieces, more) => {
          // Chunk boundaries at chosen piece boundaries, and anywhere.
          const cuts = [...more]
          let at = 0
          for (const [bytes, cut] of pieces) {
            at += bytes.length
            if (cut) cuts.push(at)
          }
          const bytes = Buffer.concat(pieces.map(([b]) => b))
          const expected = r.redact(new TextDecoder().decode(bytes))
          const chunks = _split(bytes, cuts)
          expect((await _viaWeb(r, chunks)).out).toBe(expected)
          expect(await _viaNodeBytes(r, chunks)).toBe(expected)
        },
      ),
      { numRuns: 200 },
    )
  })

  it('text that cannot start a secret flows out at once', async () => {
    const r = createRedactor(entries)
    const s = r.transform()
    const writer = s.writable.getWriter()
    const reader = s.readable.getReader()
    void writer.write('prompt> ')
    expect((await reader.read()).value).toBe('prompt> ')
    // A live partial match is held back, and only that.
    void writer.write(`ok ${SECRET.slice(0, 10)}`)
    expect((await reader.read()).value).toBe('ok ')
    // A complete value is emitted as soon as nothing can overlap its end.
    void writer.write(`${SECRET.slice(10)} `)
    expect((await reader.read()).value).toBe('<S> ')
    void writer.write(`${SECRET.slice(0, 12)}!`)
    expect((await reader.read()).value).toBe(`${SECRET.slice(0, 12)}!`)
    void writer.close()
    expect((await reader.read()).done).toBe(true)
  })

  it('node transform scrubs a real child process output', async () => {
    const { spawn } = await import('node:child_process')
    const r = createRedactor([{ value: SECRET, label: '${secret.stripe}' }])
    const child = spawn(
      process.execPath,
      [
        '-e',
        `const s = process.env.TOKEN; for (const c of s + "\\n" + Buffer.from(s).toString("base64")) process.stdout.write(c)`,
      ],
      { env: { TOKEN: SECRET }, stdio: ['ignore', 'pipe', 'inherit'] },
    )
    const out = await streamText(child.stdout.pipe(r.nodeTransform()))
    expect(out).not.toContain(SECRET)
    expect(out.split('\n')[0]).toBe('${secret.stripe}')
    expect(out.split('\n')[1]).toMatch(/^\$\{secret\.stripe\}[A-Za-z0-9+/=]{0,4}$/)
  })
})

describe('createRedactor: properties', () => {
  const alnum = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'
  const secretArb = fc
    .string({ unit: fc.constantFrom(...alnum), minLength: 8, maxLength: 24 })
    .filter((s) => new Set(s).size > 2)
  const fillerArb = fc.string({
    unit: fc.constantFrom(' ', '\n', 'é', '😀', '{', '"', ':', ',', 'x', 'y', '=', '/', '+'),
    maxLength: 12,
  })

  /** Text made of filler and secrets (raw or encoded at a random alignment). */
  const scenario = fc
    .uniqueArray(secretArb, { minLength: 1, maxLength: 5 })
    .chain((secrets) =>
      fc.record({
        secrets: fc.constant(secrets),
        pieces: fc.array(
          fc.tuple(
            fillerArb,
            fc.nat(secrets.length - 1),
            fc.constantFrom('raw', 'base64', 'base64url', 'hex', 'url', 'json', 'prefix'),
            fc.nat(2),
          ),
          { maxLength: 8 },
        ),
        tail: fillerArb,
        cuts: fc.array(fc.nat(400), { maxLength: 12 }),
      }),
    )
    .map(({ secrets, pieces, tail, cuts }) => {
      let text = ''
      for (const [filler, which, how, k] of pieces) {
        const s = secrets[which]!
        const pre = Buffer.alloc(k, 0x5a)
        const bytes = Buffer.concat([pre, Buffer.from(s), Buffer.from('\n')])
        text += filler
        text +=
          how === 'raw'
            ? s
            : how === 'base64'
              ? bytes.toString('base64')
              : how === 'base64url'
                ? bytes.toString('base64url')
                : how === 'hex'
                  ? bytes.toString('hex')
                  : how === 'url'
                    ? encodeURIComponent(s)
                    : how === 'json'
                      ? JSON.stringify(s)
                      : s.slice(0, 5) // a prefix that never completes
      }
      return { secrets, text: text + tail, cuts }
    })

  it('streaming output equals one-shot output for any chunking', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async ({ secrets, text, cuts }) => {
        const r = createRedactor(secrets.map((value, i) => ({ value, label: `<#${i}>` })))
        const expected = r.redact(text)
        const bytes = utf8.encode(text)
        expect((await _viaWeb(r, _split(bytes, cuts))).out).toBe(expected)
        const stringCuts = cuts.map((c) => c % (text.length + 1))
        const pieces: string[] = []
        let last = 0
        for (const c of [...stringCuts].sort((a, b) => a - b)) {
          pieces.push(text.slice(last, Math.max(last, c)))
          last = Math.max(last, c)
        }
        pieces.push(text.slice(last))
        expect((await _viaWeb(r, pieces)).out).toBe(expected)
      }),
      { numRuns: 300 },
    )
  })

  it('no registered value or encoded form survives', () => {
    fc.assert(
      fc.property(scenario, ({ secrets, text }) => {
        const r = createRedactor(secrets.map((value, i) => ({ value, label: `<#${i}>` })))
        const out = r.redact(text)
        for (const s of secrets) {
          expect(out).not.toContain(s)
          expect(out).not.toContain(Buffer.from(s).toString('hex'))
          expect(out).not.toContain(encodeURIComponent(s))
          for (const k of [0, 1, 2]) {
            expect(out).not.toContain(_base64Core(s, k))
            expect(out).not.toContain(_base64Core(s, k, true))
          }
        }
      }),
      { numRuns: 300 },
    )
  })
})

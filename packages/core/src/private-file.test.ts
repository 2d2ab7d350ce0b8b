import {
  lstat,
  mkdir,
  readdir,
  readFile,
  readlink,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { CANARY_VALUE, expectCode, tempFiles } from './drivers/_file-kit.js'
import { writePrivateFile } from './private-file.js'

const { dir } = tempFiles()

describe('writePrivateFile', () => {
  it('writes a string or bytes, mode 0600, replacing the old content whole', async () => {
    const path = join(await dir(), 'out.env')
    await writeFile(path, 'old content that is longer than the new one', { mode: 0o644 })
    await writePrivateFile(path, 'A=1\n')
    expect(await readFile(path, 'utf8')).toBe('A=1\n')
    expect((await stat(path)).mode & 0o777).toBe(0o600)
    await writePrivateFile(path, new Uint8Array([0, 255, 10]))
    expect([...(await readFile(path))]).toEqual([0, 255, 10])
    expect(await readdir(join(path, '..'))).toEqual(['out.env'])
  })

  it('a symlinked path is written through to its target; the link stays a link', async () => {
    const base = await dir()
    await mkdir(join(base, 'synced'))
    const target = join(base, 'synced', 'real.env')
    await writeFile(target, 'old')
    const link = join(base, 'link.env')
    await symlink('synced/real.env', link)
    await writePrivateFile(link, 'new')
    expect((await lstat(link)).isSymbolicLink()).toBe(true)
    expect(await readlink(link)).toBe('synced/real.env')
    expect(await readFile(target, 'utf8')).toBe('new')
    // A dangling link creates its target.
    const dangling = join(base, 'dangling.env')
    await symlink('synced/created.env', dangling)
    await writePrivateFile(dangling, 'made')
    expect(await readFile(join(base, 'synced', 'created.env'), 'utf8')).toBe('made')
    expect((await lstat(dangling)).isSymbolicLink()).toBe(true)
  })

  it('a directory, a missing directory or a link loop → KEYWARD_STORE_IO with errno, no temp file left', async () => {
    const base = await dir()
    await mkdir(join(base, 'adir'))
    const isDir = await expectCode(
      writePrivateFile(join(base, 'adir'), CANARY_VALUE),
      'KEYWARD_STORE_IO',
    )
    expect(isDir.details).toMatchObject({ errno: 'EISDIR' })
    const missing = await expectCode(
      writePrivateFile(join(base, 'nope', 'x.env'), CANARY_VALUE),
      'KEYWARD_STORE_IO',
    )
    expect(missing.details).toMatchObject({ errno: 'ENOENT' })
    await symlink('loop-b', join(base, 'loop-a'))
    await symlink('loop-a', join(base, 'loop-b'))
    const loop = await expectCode(
      writePrivateFile(join(base, 'loop-a'), CANARY_VALUE),
      'KEYWARD_STORE_IO',
    )
    expect(loop.details).toMatchObject({ errno: 'ELOOP' })
    expect((await readdir(base)).sort()).toEqual(['adir', 'loop-a', 'loop-b'])
    expect(await readdir(join(base, 'adir'))).toEqual([])
  })

  it('refuses a bad path or data with KEYWARD_INVALID_ARGUMENT naming the field', async () => {
    for (const [path, data, field] of [
      ['', 'x', 'path'],
      ['a\0b', 'x', 'path'],
      [42, 'x', 'path'],
      ['/tmp/x', 42, 'data'],
    ] as const) {
      const error = await expectCode(
        writePrivateFile(path as string, data as string),
        'KEYWARD_INVALID_ARGUMENT',
      )
      expect(error.details).toMatchObject({ field })
    }
  })
})

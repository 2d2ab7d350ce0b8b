import { mkdir, mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** A fresh temporary directory for one test. */
export async function _tempDir(prefix = 'keyward-sandbox-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix))
}

/** Writes a plugin folder (`files` maps relative paths to contents; objects are JSON). */
export async function _writePlugin(
  dir: string,
  files: Record<string, string | object>,
): Promise<string> {
  for (const [path, content] of Object.entries(files)) {
    const target = join(dir, path)
    await mkdir(join(target, '..'), { recursive: true })
    await writeFile(target, typeof content === 'string' ? content : JSON.stringify(content))
  }
  return dir
}

/** The clockify plugin of the issue, as a Kazibee/keyward plugin folder. */
export function _clockifyFiles(manifestKey = 'keyward'): Record<string, string | object> {
  return {
    'package.json': {
      name: 'clockify',
      version: '1.0.0',
      type: 'module',
      main: './index.js',
      [manifestKey]: { permissions: './permissions.json', commands: './command.js' },
    },
    'permissions.json': {
      env: {
        CLOCKIFY_API_KEY: 'CLOCKIFY_API_KEY',
        WORKSPACE: {
          key: 'CLOCKIFY_WORKSPACE',
          sources: ['LOCAL', 'ENV'],
          optional: true,
          label: 'Workspace id',
          helpUrl: 'https://app.clockify.me/user/settings',
          helpText: 'Settings → Workspace',
        },
        API_TOKEN: { key: 'CLOCKIFY_TOKEN', mode: 'reference' },
      },
      network: ['https://api.clockify.me'],
      auth: {
        registry: {
          scopes: ['registry:read', 'registry:write'],
          origins: ['https://api.example.com'],
        },
      },
      tools: {
        search: {},
        upload: { auth: 'registry', scope: 'registry:write', approval: 'always' },
      },
    },
    'index.js':
      'export default function main(env, ctx) { return { async ping() { return "pong" } } }\n',
    'command.js': 'export async function login() { return { CLOCKIFY_WORKSPACE: "ws-1" } }\n',
  }
}

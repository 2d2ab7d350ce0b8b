// The options of mcpAuthProvider, checked eagerly at construction (the option at fault named).
import { assertOptions, KEYWARD_INVALID_ARGUMENT, KeywardError } from '@keyward/core'
import { customFetch } from '@keyward/oauth'
import type { McpAuthProviderOptions } from '../types.js'

export function invalid(field: string, message: string): KeywardError {
  return new KeywardError(
    KEYWARD_INVALID_ARGUMENT,
    `mcpAuthProvider: option \`${field}\` ${message}`,
    { details: { field } },
  )
}

/** Checks `options`; returns the MCP server's URL, without a fragment. */
export function checkOptions(options: McpAuthProviderOptions): URL {
  assertOptions(options, 'mcpAuthProvider', {
    store: { kind: 'object', required: true },
    client: 'object',
    interactive: 'boolean',
    openBrowser: 'function',
    account: 'non-empty string',
    signInTimeoutMs: 'positive integer',
    allowLoopbackHttp: 'boolean',
    logger: 'logger',
  })
  if (typeof (options.store as { setRefresher?: unknown }).setRefresher !== 'function')
    throw invalid('store', 'must be an AuthStore')
  let serverUrl: URL
  try {
    serverUrl = new URL(String(options.serverUrl))
  } catch {
    throw invalid('serverUrl', 'must be an absolute URL')
  }
  if (serverUrl.protocol !== 'https:' && serverUrl.protocol !== 'http:')
    throw invalid('serverUrl', 'must be an http(s) URL')
  serverUrl.hash = ''
  const client = options.client
  if (client !== undefined) {
    assertOptions(client, 'mcpAuthProvider client', {
      clientMetadataUrl: 'non-empty string',
      clientId: 'non-empty string',
      clientSecret: 'non-empty string',
      clientName: 'non-empty string',
    })
    if (client.clientMetadataUrl !== undefined) {
      let url: URL | undefined
      try {
        url = new URL(client.clientMetadataUrl)
      } catch {
        url = undefined
      }
      if (url?.protocol !== 'https:' || url.pathname === '/')
        throw invalid('client.clientMetadataUrl', 'must be an https URL with a path')
    }
  }
  if (
    options.scopes !== undefined &&
    (!Array.isArray(options.scopes) ||
      !options.scopes.every((s) => typeof s === 'string' && /^[\x21\x23-\x5b\x5d-\x7e]+$/.test(s)))
  )
    throw invalid('scopes', 'must be an array of scope strings')
  const fetcher = (options as { [customFetch]?: unknown })[customFetch]
  if (fetcher !== undefined && typeof fetcher !== 'function')
    throw invalid('[customFetch]', 'must be a function')
  return serverUrl
}

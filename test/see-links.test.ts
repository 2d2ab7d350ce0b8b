// Every protocol-facing export links, with `@see`, to the section of the RFC or spec it implements
// (issue: "`@see` links to the RFCs each function implements"). Read from the built declarations,
// as an editor shows them on hover, so a link lost in a refactor or a re-export fails here.
import ts from 'typescript'
import { describe, expect, it } from 'vitest'
import { declarationProgram, entryPoints } from '../scripts/public-exports.js'

const RFC = (n: number, section = '') =>
  `https://www.rfc-editor.org/rfc/rfc${n}${section ? `#section-${section}` : ''}`
const OIDC_CORE = 'https://openid.net/specs/openid-connect-core-1_0.html'
const GIT_CREDENTIAL = 'https://git-scm.com/docs/git-credential'

/** specifier → export → links its TSDoc must carry (a prefix match, so a deeper section passes). */
const REQUIRED: Record<string, Record<string, readonly string[]>> = {
  '@keyward/oauth': {
    authorizationUrl: [RFC(6749, '4.1'), RFC(7636)],
    exchangeCode: [RFC(6749, '4.1.3'), RFC(9207)],
    loginWithBrowser: [RFC(6749, '4.1'), RFC(7636), RFC(8252)],
    loginWithDeviceCode: [RFC(8628)],
    login: [RFC(8252), RFC(8628)],
    clientCredentials: [RFC(6749, '4.4')],
    refreshTokens: [RFC(6749, '6')],
    oauthRefresher: [RFC(6749, '6')],
    revokeToken: [RFC(7009)],
    revokeOnClear: [RFC(7009)],
    fetchAccount: [OIDC_CORE],
    tokenSetToRecord: [RFC(6749, '5.1')],
    defineProvider: [RFC(8414), RFC(8707)],
    discoverProtectedResource: [RFC(9728)],
    discoverAuthorizationServer: [RFC(8414)],
    providerFromMetadata: [RFC(8414)],
    parseWwwAuthenticate: [RFC(9110, '11.6.1')],
    parseBearerChallenge: [RFC(6750, '3'), RFC(9728, '5.1')],
    registerClient: [RFC(7591)],
    registeredClient: [RFC(7591)],
    stepUpScopes: [RFC(6750, '3.1')],
  },
  '@keyward/vault': {
    generateTotp: [RFC(6238)],
    parseTotp: [RFC(6238)],
    gitCredentialHelper: [GIT_CREDENTIAL],
    parseCredentialInput: [GIT_CREDENTIAL],
  },
  '@keyward/core': {
    RefreshError: [RFC(6749, '5.2')],
    passphraseKey: [RFC(7914)],
  },
}

const entries = entryPoints().filter((e) => e.specifier in REQUIRED)
const { checker, exportsOf } = declarationProgram(entries)

/** The URL of one `@see` tag's source text. */
const seeTarget = (text: string) => text.replace(/^@see\s+/, '').split(/\s/, 1)[0] ?? ''

/** The `@see` URLs of an export, from its declarations (after following re-exports). */
function seeLinks(symbol: ts.Symbol): string[] {
  const target = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol
  return (target.declarations ?? []).flatMap((declaration) =>
    ts
      .getJSDocTags(declaration)
      .filter((tag) => tag.tagName.text === 'see')
      // TypeScript splits `@see https://…` into a name reference `https` and the rest, so the
      // tag's source text is read instead.
      .map((tag) => seeTarget(tag.getText())),
  )
}

describe('@see links to the specifications', () => {
  it.each(entries.map((e) => [e.specifier, e.file] as const))(
    'the protocol-facing exports of %s link to what they implement',
    (specifier, file) => {
      const exported = new Map(exportsOf(file).map((s) => [s.getName(), s]))
      const missing: string[] = []
      for (const [name, links] of Object.entries(REQUIRED[specifier] ?? {})) {
        const symbol = exported.get(name)
        if (!symbol) {
          missing.push(`${name}: not exported`)
          continue
        }
        const have = seeLinks(symbol)
        for (const link of links)
          if (!have.some((url) => url.startsWith(link))) missing.push(`${name}: ${link}`)
      }
      expect(missing).toEqual([])
    },
  )
})

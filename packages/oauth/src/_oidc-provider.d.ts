// oidc-provider ships no types; the tests use a small part of it.
declare module 'oidc-provider' {
  // biome-ignore lint/suspicious/noExplicitAny: untyped test dependency
  type Any = any
  const Provider: Any
  type Provider = Any
  export default Provider
}

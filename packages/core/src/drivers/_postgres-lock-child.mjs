// A child process of postgres-instances.test.ts: another app instance, running the BUILT driver
// (packages/core/dist) as a user's program would. It takes a lock, tells the parent over IPC that
// it holds it, and holds it until it is killed. Not published.
//   node _postgres-lock-child.mjs '{"url":…,"table":…,"key":<base64>,"lock":…}'
const dist = new URL('../../dist/', import.meta.url)
const { envKey } = await import(new URL('index.js', dist).href)
const { postgresDriver } = await import(new URL('drivers/postgres.js', dist).href)

const args = JSON.parse(process.argv[2])
const driver = postgresDriver({
  connectionString: args.url,
  table: args.table,
  key: envKey('KEYWARD_KEY', { env: { KEYWARD_KEY: args.key } }),
})
await driver.withLock(args.lock, async () => {
  process.send({ held: true })
  // Hold the lock until killed.
  await new Promise(() => setInterval(() => {}, 60_000))
})

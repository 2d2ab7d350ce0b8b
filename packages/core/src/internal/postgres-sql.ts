/**
 * The SQL of the PostgreSQL driver: the table name check, the statements (every identifier
 * validated and quoted, every value a bind parameter), the advisory-lock ids and the
 * notification channel. No I/O here.
 *
 * @module
 */
import { createHash } from 'node:crypto'
import { KEYWARD_INVALID_ARGUMENT, KeywardError } from '../errors.js'

/** The default table. */
export const DEFAULT_TABLE = 'keyward_store'

/** The version of the schema `migrate()` creates (kept in the table comment). */
export const SCHEMA_VERSION = 1

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,39}$/

/** A validated table name: its parts, quoted forms and the names derived from it. */
export interface TableNames {
  /** `schema.table` or `table`, as given. */
  readonly display: string
  /** The quoted, qualified table: `"schema"."table"`. */
  readonly table: string
  /** The quoted, qualified trigger function. */
  readonly notifyFunction: string
  /** The trigger's (unqualified, quoted) name. */
  readonly trigger: string
  /** The notification channel (an identifier of its own, quoted for LISTEN). */
  readonly channel: string
  /** `to_regclass` argument to check that the table exists. */
  readonly regclass: string
  /** Salt of the advisory-lock ids, so that two tables never share a lock id. */
  readonly lockSalt: string
}

const quote = (identifier: string) => `"${identifier}"`

/**
 * Checks a table name (`name` or `schema.name`, each part lower-case letters, digits and `_`,
 * starting with a letter or `_`, at most 40 characters) and derives the other names from it.
 * Throws `KEYWARD_INVALID_ARGUMENT` naming the option otherwise: a table name is never
 * interpolated into SQL without passing here.
 */
export function tableNames(name: unknown): TableNames {
  const parts = typeof name === 'string' ? name.split('.') : []
  if (parts.length < 1 || parts.length > 2 || !parts.every((part) => IDENTIFIER.test(part)))
    throw new KeywardError(
      KEYWARD_INVALID_ARGUMENT,
      'postgresDriver: option `table` must be a table name such as keyward_store or app.keyward_store (lower-case letters, digits and _, each part at most 40 characters, not starting with a digit)',
      { details: { caller: 'postgresDriver', option: 'table' } },
    )
  const table = parts.at(-1)!
  const schema = parts.length === 2 ? parts[0]! : undefined
  const qualify = (identifier: string) =>
    schema === undefined ? quote(identifier) : `${quote(schema)}.${quote(identifier)}`
  const display = parts.join('.')
  const digest = createHash('sha256').update(`keyward\0${display}`).digest('hex')
  return {
    display,
    table: qualify(table),
    notifyFunction: qualify(`${table}_notify`),
    trigger: quote(`${table}_notify`),
    channel: quote(`keyward_${digest.slice(0, 24)}`),
    regclass: schema === undefined ? table : `${schema}.${table}`,
    lockSalt: display,
  }
}

/**
 * The advisory-lock id of lock `key` in `table`: the first 64 bits of SHA-256 over the table
 * and the key, as the signed decimal `pg_advisory_xact_lock(bigint)` takes.
 */
export function advisoryLockId(names: TableNames, key: string): string {
  const digest = createHash('sha256').update(`keyward/lock\0${names.lockSalt}\0${key}`).digest()
  return digest.readBigInt64BE(0).toString()
}

/** The id of the lock that serialises concurrent `migrate()` calls on one table. */
export function migrationLockId(names: TableNames): string {
  const digest = createHash('sha256').update(`keyward/migrate\0${names.lockSalt}`).digest()
  return digest.readBigInt64BE(0).toString()
}

/**
 * The migration, one statement per entry, run in one transaction under {@link migrationLockId}.
 * Idempotent: every statement creates or replaces.
 *
 * - `key text COLLATE "C"` as the primary key: byte order, so the primary-key index serves
 *   `list(prefix)` (`LIKE 'prefix%'`);
 * - `value bytea`: ciphertext (the driver encrypts before writing);
 * - `version bigint`: compare-and-set;
 * - `updated_at`: for operators (last write), never read by keyward;
 * - a row trigger that sends `<version>:<key>` (`0:` for a delete) on the table's channel.
 */
export function migrationStatements(names: TableNames): string[] {
  const channelLiteral = names.channel.slice(1, -1)
  return [
    `CREATE TABLE IF NOT EXISTS ${names.table} (
  key text COLLATE "C" NOT NULL PRIMARY KEY,
  value bytea NOT NULL,
  version bigint NOT NULL CHECK (version > 0),
  updated_at timestamptz NOT NULL DEFAULT now()
)`,
    `CREATE OR REPLACE FUNCTION ${names.notifyFunction}() RETURNS trigger LANGUAGE plpgsql AS $keyward$
BEGIN
  IF TG_OP = 'DELETE' THEN
    PERFORM pg_notify('${channelLiteral}', '0:' || OLD.key);
  ELSE
    PERFORM pg_notify('${channelLiteral}', NEW.version::text || ':' || NEW.key);
  END IF;
  RETURN NULL;
END
$keyward$`,
    `DROP TRIGGER IF EXISTS ${names.trigger} ON ${names.table}`,
    `CREATE TRIGGER ${names.trigger} AFTER INSERT OR UPDATE OR DELETE ON ${names.table} FOR EACH ROW EXECUTE FUNCTION ${names.notifyFunction}()`,
    `COMMENT ON TABLE ${names.table} IS 'keyward store, schema ${SCHEMA_VERSION}: ciphertext values written by @keyward/core/drivers/postgres'`,
  ]
}

/** The statements of the driver's operations on one table. */
export function statements(names: TableNames) {
  const t = names.table
  return {
    get: `SELECT value, version FROM ${t} WHERE key = $1`,
    version: `SELECT version FROM ${t} WHERE key = $1`,
    upsert: `INSERT INTO ${t} AS t (key, value, version) VALUES ($1, $2, 1)
ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, version = t.version + 1, updated_at = now()
RETURNING version`,
    insertNew: `INSERT INTO ${t} (key, value, version) VALUES ($1, $2, 1) ON CONFLICT (key) DO NOTHING RETURNING version`,
    updateAt: `UPDATE ${t} SET value = $2, version = version + 1, updated_at = now() WHERE key = $1 AND version = $3 RETURNING version`,
    delete: `DELETE FROM ${t} WHERE key = $1 RETURNING version`,
    deleteAt: `DELETE FROM ${t} WHERE key = $1 AND version = $2 RETURNING version`,
    lockRows: `SELECT key, version FROM ${t} WHERE key = ANY($1::text[]) ORDER BY key FOR UPDATE`,
    list: `SELECT key FROM ${t} WHERE key LIKE $1 ESCAPE '\\'`,
    listAll: `SELECT key FROM ${t}`,
    exists: 'SELECT to_regclass($1) IS NOT NULL AS present',
  }
}

/** `prefix` as a `LIKE` pattern that matches exactly the keys starting with it. */
export function likePrefix(prefix: string): string {
  return `${prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`
}

/** Parses a notification payload (`<version>:<key>`); `null` when it is not one of ours. */
export function parseNotification(payload: string | undefined): {
  key: string
  version: number
} | null {
  if (payload === undefined) return null
  const colon = payload.indexOf(':')
  if (colon < 1 || colon > 20) return null
  const digits = payload.slice(0, colon)
  if (!/^\d+$/.test(digits)) return null
  const version = Number(digits)
  const key = payload.slice(colon + 1)
  if (!Number.isSafeInteger(version) || key.length === 0) return null
  return { key, version }
}

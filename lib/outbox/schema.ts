/**
 * The outbox database layout and its migrations.
 *
 * The schema version is SQLite's `PRAGMA user_version` (in the file header:
 * readable before any table exists, and written in the same transaction as
 * the DDL that needs it). {@linkcode migrate} applies every migration above the
 * file's version in one transaction. A file from a newer leaf is refused with
 * a {@linkcode ConfigError} and left untouched (a downgrade must not destroy
 * messages the newer version can still send); a version-0 file that already
 * has tables is not a leaf outbox ({@linkcode OutboxLayoutError}).
 *
 * Tables (v1):
 * - `messages(seq, created, bytes, mid, props, body)`: one row per queued
 *   message; `seq` is the rowid, so order, range deletes and the head/tail
 *   lookups are B-tree walks. The small columns come first so reading them
 *   never touches a body's overflow pages.
 * - `meta(key, value)`: counters as of the last commit: `next_seq`, `depth`,
 *   `bytes`, `dropped_count`, `dropped_bytes`. Keeping depth and bytes here
 *   makes opening O(1) in the queue length.
 *
 * @module
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";
import { ConfigError } from "../errors.ts";

/** One step of the schema. */
export interface Migration {
  /** The `user_version` after this step; 1, 2, 3, ... */
  version: number;
  /** What the step does, for logs. */
  about: string;
  /** Applies the step inside the migration transaction. */
  up(db: DatabaseSync): void;
}

/** Every migration, oldest first. Append; never edit a released one. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    about: "messages and meta tables",
    up(db) {
      db.exec(`
        CREATE TABLE messages (
          seq INTEGER PRIMARY KEY,
          created INTEGER NOT NULL,
          bytes INTEGER NOT NULL,
          mid TEXT NOT NULL,
          props TEXT NOT NULL,
          body TEXT NOT NULL
        );
        CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
        INSERT INTO meta (key, value) VALUES
          ('next_seq', 1), ('depth', 0), ('bytes', 0), ('dropped_count', 0), ('dropped_bytes', 0);
      `);
    },
  },
];

/** The schema version this build writes. */
export const SCHEMA_VERSION: number = MIGRATIONS[MIGRATIONS.length - 1].version;

/** A version-0 database that has tables: not a leaf outbox. */
export class OutboxLayoutError extends Error {
  /** `message` says what is wrong with the layout. */
  constructor(message: string) {
    super(message);
    this.name = "OutboxLayoutError";
  }
}

/** Reads `PRAGMA user_version`. */
export function schemaVersion(db: DatabaseSync): number {
  const row = db.prepare("PRAGMA user_version").get() as { user_version: number };
  return row.user_version;
}

/** Refuses a file written by a newer leaf; `path` names it in the message. */
export function checkNotNewer(version: number, latest: number, path: string): void {
  if (version > latest) {
    throw new ConfigError(
      `Outbox database "${path}" has schema version ${version}, this leaf knows up to ${latest}`,
      {
        code: "outbox.schema_newer",
        hint:
          "it was written by a newer leaf: run that version again (it still holds unsent messages), or move the file aside to start an empty outbox",
      },
    );
  }
}

/**
 * Brings `db` to the newest version in `migrations`, in one transaction.
 * Returns the versions before and after. `create` runs in the same
 * transaction when the file had no schema yet (e.g. to write its first
 * counters, so no crash can leave a new file with the defaults).
 */
export function migrate(
  db: DatabaseSync,
  path: string,
  migrations: readonly Migration[] = MIGRATIONS,
  create?: (db: DatabaseSync) => void,
): { from: number; to: number } {
  const latest = migrations.length === 0 ? 0 : migrations[migrations.length - 1].version;
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) {
      throw new Error(`migration ${i} has version ${m.version}, not ${i + 1}`);
    }
  });
  const from = schemaVersion(db);
  checkNotNewer(from, latest, path);
  if (from === latest) return { from, to: latest };
  db.exec("BEGIN IMMEDIATE");
  try {
    const current = schemaVersion(db);
    checkNotNewer(current, latest, path);
    if (current === 0) {
      const tables = db.prepare("SELECT count(*) AS n FROM sqlite_schema").get() as { n: number };
      if (tables.n > 0) {
        throw new OutboxLayoutError("it has tables but no schema version: not a leaf outbox");
      }
    }
    for (const m of migrations) {
      if (m.version <= current) continue;
      m.up(db);
      db.exec(`PRAGMA user_version = ${m.version}`);
    }
    if (current === 0) create?.(db);
    db.exec("COMMIT");
  } catch (error) {
    if (db.isTransaction) db.exec("ROLLBACK");
    throw error;
  }
  return { from, to: latest };
}

/** The counters kept in `meta`, as of the last commit. */
export interface Meta {
  /** The seq the next append gets (`next_seq`). */
  nextSeq: number;
  /** Messages queued (`depth`). */
  depth: number;
  /** Their UTF-8 bytes, body + props (`bytes`). */
  bytes: number;
  /** Messages dropped by the bounds, ever (`dropped_count`). */
  dropped: number;
  /** Their bytes (`dropped_bytes`). */
  droppedBytes: number;
}

const META_KEYS: [keyof Meta, string][] = [
  ["nextSeq", "next_seq"],
  ["depth", "depth"],
  ["bytes", "bytes"],
  ["dropped", "dropped_count"],
  ["droppedBytes", "dropped_bytes"],
];

/** Reads the counters; missing keys read as 0 (`nextSeq` as 1). */
export function readMeta(db: DatabaseSync): Meta {
  const meta: Meta = { nextSeq: 1, depth: 0, bytes: 0, dropped: 0, droppedBytes: 0 };
  const rows = db.prepare("SELECT key, value FROM meta").all() as { key: string; value: number }[];
  const byKey = new Map(rows.map((r) => [r.key, r.value]));
  for (const [field, key] of META_KEYS) {
    const value = byKey.get(key);
    if (typeof value === "number" && Number.isSafeInteger(value) && value >= 0) meta[field] = value;
  }
  meta.nextSeq = Math.max(1, meta.nextSeq);
  return meta;
}

/** Prepares the statement {@linkcode writeMeta} uses. */
export function prepareMetaWrite(db: DatabaseSync): StatementSync {
  return db.prepare(
    "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
  );
}

/** Writes the counters (inside the caller's transaction). */
export function writeMeta(statement: StatementSync, meta: Meta): void {
  for (const [field, key] of META_KEYS) statement.run(key, meta[field]);
}

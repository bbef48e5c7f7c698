import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { ConfigError } from "../../lib/errors.ts";
import {
  migrate,
  type Migration,
  MIGRATIONS,
  OutboxLayoutError,
  readMeta,
  SCHEMA_VERSION,
  schemaVersion,
} from "../../lib/outbox/schema.ts";
import { tempDir } from "../_helpers.ts";

const V2: Migration = {
  version: 2,
  about: "test: a priority column",
  up(db) {
    db.exec("ALTER TABLE messages ADD COLUMN priority INTEGER NOT NULL DEFAULT 0");
  },
};

Deno.test("migrate() creates the v1 tables and counters in an empty file", async () => {
  await using dir = await tempDir("outbox-schema");
  const db = new DatabaseSync(`${dir.path}/a.db`);
  try {
    assert.deepEqual(migrate(db, "a.db"), { from: 0, to: SCHEMA_VERSION });
    assert.equal(schemaVersion(db), 1);
    assert.deepEqual(readMeta(db), {
      nextSeq: 1,
      depth: 0,
      bytes: 0,
      dropped: 0,
      droppedBytes: 0,
    });
    assert.deepEqual(migrate(db, "a.db"), { from: 1, to: 1 }, "idempotent");
  } finally {
    db.close();
  }
});

Deno.test("migrate() upgrades a v1 database with rows to a later version in one transaction", async () => {
  await using dir = await tempDir("outbox-schema");
  const db = new DatabaseSync(`${dir.path}/a.db`);
  try {
    migrate(db, "a.db");
    db.exec("INSERT INTO messages VALUES (1, 100, 10, 'm1', 'p', 'b')");
    assert.deepEqual(migrate(db, "a.db", [...MIGRATIONS, V2]), { from: 1, to: 2 });
    assert.equal(schemaVersion(db), 2);
    assert.deepEqual(
      { ...db.prepare("SELECT seq, mid, priority FROM messages").get() },
      { seq: 1, mid: "m1", priority: 0 },
    );
  } finally {
    db.close();
  }
});

Deno.test("migrate() rolls a failing step back entirely", async () => {
  await using dir = await tempDir("outbox-schema");
  const db = new DatabaseSync(`${dir.path}/a.db`);
  const broken: Migration = {
    version: 2,
    about: "test: fails half way",
    up(db) {
      db.exec("CREATE TABLE extra (x)");
      db.exec("THIS IS NOT SQL");
    },
  };
  try {
    migrate(db, "a.db");
    assert.throws(() => migrate(db, "a.db", [...MIGRATIONS, broken]), /syntax error/);
    assert.equal(schemaVersion(db), 1);
    assert.equal(
      db.prepare("SELECT name FROM sqlite_schema WHERE name = 'extra'").get(),
      undefined,
    );
  } finally {
    db.close();
  }
});

Deno.test("migrate() refuses a newer version and a version-0 file with foreign tables", async () => {
  await using dir = await tempDir("outbox-schema");
  const db = new DatabaseSync(`${dir.path}/a.db`);
  try {
    db.exec("PRAGMA user_version = 7");
    assert.throws(() => migrate(db, "a.db"), ConfigError);
    db.exec("PRAGMA user_version = 0; CREATE TABLE other (x)");
    assert.throws(() => migrate(db, "a.db"), OutboxLayoutError);
  } finally {
    db.close();
  }
});

Deno.test("migrate() rejects a migrations list with a hole (a bug)", async () => {
  await using dir = await tempDir("outbox-schema");
  const db = new DatabaseSync(`${dir.path}/a.db`);
  try {
    assert.throws(() => migrate(db, "a.db", [{ ...V2 }]), /version 2, not 1/);
  } finally {
    db.close();
  }
});

/**
 * Classifying SQLite errors (an I/O error is not corruption) and recovering
 * rows from a damaged database.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { fileURLToPath } from "node:url";
import { salvage } from "../../lib/outbox/_salvage.ts";
import { type FaultKind, faultKind, quickCheck } from "../../lib/outbox/_sqlite.ts";
import { Statements } from "../../lib/outbox/_statements.ts";
import { openOutbox } from "../../lib/outbox/outbox.ts";
import { readOutboxStatus } from "../../lib/outbox/status.ts";
import { tempDir } from "../_helpers.ts";
import { assertCountersMatchRows, captureLog, dbPath, message, quiet } from "./_util.ts";

const sqliteError = (errcode: number, errstr = "") =>
  Object.assign(new Error(errstr || `code ${errcode}`), { errcode, errstr });

Deno.test.each([
  ["SQLITE_IOERR", "io", sqliteError(10, "disk I/O error")],
  ["SQLITE_IOERR_READ", "io", sqliteError(266, "disk I/O error")],
  ["SQLITE_IOERR_WRITE", "io", sqliteError(778, "disk I/O error")],
  ["SQLITE_IOERR_FSYNC", "io", sqliteError(1290, "disk I/O error")],
  ["an exec() I/O error (text only)", "io", new Error("disk I/O error")],
  ["SQLITE_CORRUPT", "corrupt", sqliteError(11, "database disk image is malformed")],
  ["SQLITE_CORRUPT_VTAB", "corrupt", sqliteError(267, "database disk image is malformed")],
  ["SQLITE_NOTADB", "corrupt", sqliteError(26, "file is not a database")],
  ["an exec() SQLITE_NOTADB (text only)", "corrupt", new Error("file is not a database")],
  ["SQLITE_FULL", "full", sqliteError(13, "database or disk is full")],
  ["SQLITE_CANTOPEN", "access", sqliteError(14, "unable to open database file")],
  ["SQLITE_BUSY", "busy", sqliteError(5, "database is locked")],
  ["SQLITE_CONSTRAINT", "other", sqliteError(19, "UNIQUE constraint failed")],
  ["a TypeError", "other", new TypeError("a bug")],
] as [string, FaultKind, Error][])("faultKind() classifies %s as %s", (_name, kind, error) => {
  assert.equal(faultKind(error), kind);
});

/** An outbox database with `n` committed messages in `dir`. */
function fill(dir: string, n: number): string {
  using outbox = openOutbox({ stateDir: dir, log: quiet });
  for (let i = 0; i < n; i++) outbox.append(i, message);
  return dbPath(dir);
}

Deno.test("salvage() returns every row of an intact database, in seq order, unchanged", async () => {
  await using dir = await tempDir("outbox-salvage");
  const path = fill(dir.path, 700);
  const rows: { seq: number; mid: string; created: number; body: string; props: string }[] = [];
  const found = salvage(path, (r) => rows.push(r));
  assert.deepEqual([found.rows, found.gaps, found.nextSeq], [700, 0, 701]);
  assert.deepEqual(rows.map((r) => r.seq), Array.from({ length: 700 }, (_, i) => i + 1));
  for (const r of rows) {
    assert.deepEqual(message(r.seq, r.mid), { body: r.body, props: r.props });
    assert.equal(r.created, r.seq - 1);
  }
});

Deno.test("salvage() skips unreadable pages, keeps reading behind them, and leaves the file as it was", async () => {
  await using dir = await tempDir("outbox-salvage");
  const path = fill(dir.path, 5000);
  const size = (await Deno.stat(path)).size;
  const file = await Deno.open(path, { write: true });
  await file.seek(Math.floor(size / 3 / 4096) * 4096, Deno.SeekMode.Start);
  await file.write(new Uint8Array(4096 * 8).fill(0x5a)); // 8 leaf pages
  file.close();
  const db = new DatabaseSync(path, { readOnly: true });
  assert.match(quickCheck(db) ?? "", /page/, "the damage is real");
  db.close();
  const before = await Deno.readFile(path);
  const seqs: number[] = [];
  const found = salvage(path, (r) => seqs.push(r.seq));
  assert.equal(found.gaps, 1);
  assert.equal(found.rows, seqs.length);
  assert.ok(seqs.length > 4500 && seqs.length < 5000, `recovered ${seqs.length}`);
  assert.equal(seqs.at(-1), 5000, "rows behind the damage are read");
  assert.ok(seqs.every((s, i) => i === 0 || s > seqs[i - 1]), "in seq order");
  assert.deepEqual(await Deno.readFile(path), before, "read-only");
});

Deno.test("salvage() of a file that is not a database finds nothing and does not throw", async () => {
  await using dir = await tempDir("outbox-salvage");
  const path = dbPath(dir.path);
  await Deno.writeTextFile(path, "not a database".repeat(500));
  assert.deepEqual(salvage(path, () => assert.fail("no rows")), {
    rows: 0,
    gaps: 0,
    nextSeq: 0,
    dropped: 0,
    droppedBytes: 0,
  });
});

Deno.test("openOutbox() after a kill -9 while salvaging continues above the seq reserve", async () => {
  await using dir = await tempDir("outbox-salvage");
  const path = fill(dir.path, 100);
  const db = new DatabaseSync(path);
  db.exec("PRAGMA user_version = 0"); // tables without a version: not a leaf outbox
  db.close();
  const child = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      "--allow-run",
      fileURLToPath(new URL("./_salvage_kill_child.ts", import.meta.url)),
      dir.path,
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.equal(child.signal, "SIGKILL", new TextDecoder().decode(child.stderr));
  using outbox = openOutbox({ stateDir: dir.path, log: quiet });
  assert.equal(outbox.append(0, message).seq, 10_001, "seq continues above the reserve");
});

Deno.test("openOutbox() counts salvaged rows it cannot write into the new database as dropped, and says so", async () => {
  await using dir = await tempDir("outbox-salvage");
  const path = fill(dir.path, 100);
  const db = new DatabaseSync(path);
  db.exec("PRAGMA user_version = 0"); // not a leaf outbox: moved aside, its rows salvaged
  db.close();
  const insert = Statements.prototype.insert;
  let copies = 0;
  Statements.prototype.insert = function (this: Statements, row, replace) {
    if (replace && ++copies % 10 === 0) this.failNext = 1; // every 10th copy: SQLITE_IOERR_WRITE
    insert.call(this, row, replace);
  };
  const { log, lines } = captureLog();
  try {
    using outbox = openOutbox({ stateDir: dir.path, log });
    const errors = lines.filter((l) => l.level === "error");
    assert.equal(errors.length, 1, JSON.stringify(lines));
    assert.match(
      errors[0].msg,
      /recovered 90 queued message\(s\); 10 readable one\(s\) could not be written to the new outbox \(disk I\/O error\) and count as dropped; any others will not be sent; seq continues at 10001$/,
    );
    const s = outbox.stats();
    assert.deepEqual([s.depth, s.dropped], [90, 10]);
    assert.equal(outbox.peek(0, 1000).filter((m) => m.seq % 10 === 0).length, 0);
  } finally {
    Statements.prototype.insert = insert;
  }
  assert.equal(readOutboxStatus(dir.path).dropped, 10, "leaf outbox status tells the truth");
  assertCountersMatchRows(dir.path);
});

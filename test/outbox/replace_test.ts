/**
 * A database found damaged at run time that cannot be replaced right away
 * (the file system was remounted read-only, the new file cannot be created):
 * the outbox keeps its queue in memory, logs one line, never throws from its
 * timer, and replaces the file at a later commit without losing anything.
 */
import assert from "node:assert/strict";
import { Statements } from "../../lib/outbox/_statements.ts";
import { openOutbox, type OutboxOptions } from "../../lib/outbox/outbox.ts";
import { tempDir, waitFor } from "../_helpers.ts";
import { assertContiguous, assertCountersMatchRows, captureLog, dbPath, message } from "./_util.ts";

const AT = Date.UTC(2026, 0, 2, 3, 4, 5);

const corrupt = () =>
  Object.assign(new Error("database disk image is malformed"), {
    errcode: 11,
    errstr: "database disk image is malformed",
  });

/**
 * The next commit finds the database corrupt, and renames fail with EROFS
 * until the returned `remount()`. Dispose to undo both.
 */
function readOnlyAfterCorruption(): Disposable & { remount(): void } {
  const { renameSync } = Deno;
  const { commit } = Statements.prototype;
  Deno.renameSync = () => {
    throw new Error("Read-only file system (os error 30)");
  };
  Statements.prototype.commit = function () {
    Statements.prototype.commit = commit;
    throw corrupt();
  };
  return {
    remount: () => void (Deno.renameSync = renameSync),
    [Symbol.dispose]() {
      Deno.renameSync = renameSync;
      Statements.prototype.commit = commit;
    },
  };
}

function open(dir: string, options: Partial<OutboxOptions>) {
  return openOutbox({ stateDir: dir, now: () => AT, commitInterval: 60_000, ...options });
}

const CANNOT_MOVE =
  /^Outbox database ".*outbox\.db" is unreadable \(database disk image is malformed\) and cannot be moved aside: Read-only file system \(os error 30\); keeping unsaved messages in memory \(up to outbox\.maxBytes\) and retrying every \S+$/;

Deno.test("commit() on a corrupt database that cannot be moved aside keeps accepting appends and replaces it later", async () => {
  await using dir = await tempDir("outbox-replace");
  const { log, lines } = captureLog();
  using outbox = open(dir.path, { log });
  for (let i = 0; i < 5; i++) outbox.append(AT, message);
  outbox.commit();
  const visible: number[] = [];
  outbox.onCommitted((e) => visible.push(e.committedSeq));
  assert.ok(outbox.ack(1));
  for (let i = 0; i < 3; i++) outbox.append(AT, message);
  using fs = readOnlyAfterCorruption();
  outbox.commit(); // finds the damage; the file cannot be moved aside
  const errors = () => lines.filter((l) => l.level === "error") as Record<string, string>[];
  assert.equal(errors().length, 1, JSON.stringify(lines));
  assert.match(errors()[0].msg, CANNOT_MOVE);
  assert.match(errors()[0].hint, /writable again .* or move the file aside by hand/);
  assert.deepEqual([outbox.append(AT, message).seq, outbox.append(AT, message).seq], [9, 10]);
  assert.deepEqual(outbox.peek(0, 100), [], "held in memory");
  outbox.commit(); // still read-only: retried quietly
  assert.equal(errors().length, 1, "one line per episode");
  assert.equal(outbox.stats().depth, 9);

  fs.remount();
  outbox.commit();
  assert.equal(errors().length, 2, JSON.stringify(lines));
  assert.match(
    errors()[1].msg,
    /malformed\): moved it to ".*corrupt-20260102T030405Z" and started/,
  );
  const rows = outbox.peek(0, 100);
  assert.deepEqual(rows.map((m) => m.seq), [2, 3, 4, 5, 6, 7, 8, 9, 10], "nothing lost, ack kept");
  for (const m of rows) assert.deepEqual(message(m.seq, m.mid), { body: m.body, props: m.props });
  assert.deepEqual(visible, [10_000], "the sender is woken (the new file starts at the reserve)");
  assert.equal(outbox.stats().dropped, 0);
  assert.equal(outbox.append(AT, message).seq, 10_001, "seq continues above the reserve");
  assertCountersMatchRows(dir.path);
});

Deno.test("the commit timer never throws while a corrupt database cannot be replaced", async () => {
  await using dir = await tempDir("outbox-replace");
  const { log, lines } = captureLog();
  using outbox = open(dir.path, { log, commitInterval: 5 });
  const seqs = [outbox.append(AT, message).seq]; // writes seq.reserve while it can
  using fs = readOnlyAfterCorruption();
  await waitFor(() => lines.some((l) => CANNOT_MOVE.test(l.msg)), { what: "the error line" });
  for (let i = 0; i < 5; i++) seqs.push(outbox.append(AT, message).seq);
  fs.remount();
  await waitFor(() => outbox.peek(0, 100).length === 6, { what: "the replacement" });
  assert.deepEqual(outbox.peek(0, 100).map((m) => m.seq), seqs);
  assertContiguous(seqs);
  const errors = lines.filter((l) => l.level === "error");
  assert.equal(errors.length, 2, JSON.stringify(lines));
  assert.match(errors[1].msg, /moved it to .* and kept 6 not yet saved;/);
});

Deno.test("a replacement whose new file cannot be created is retried with the rows of the moved file", async () => {
  await using dir = await tempDir("outbox-replace");
  const { log, lines } = captureLog();
  using outbox = open(dir.path, { log });
  for (let i = 0; i < 5; i++) outbox.append(AT, message);
  outbox.commit();
  outbox.append(AT, message);
  const { renameSync } = Deno;
  using _fs = readOnlyAfterCorruption();
  const path = dbPath(dir.path);
  Deno.renameSync = (from, to) => {
    renameSync(from, to);
    if (from === path) Deno.mkdirSync(path); // the new database cannot be created
  };
  outbox.commit();
  const errors = () => lines.filter((l) => l.level === "error");
  assert.equal(errors().length, 1, JSON.stringify(lines));
  assert.match(
    errors()[0].msg,
    /malformed\): moved it to ".*corrupt-20260102T030405Z" but cannot start a new outbox: .*; keeping unsaved messages in memory/,
  );
  outbox.append(AT, message);
  outbox.commit();
  Deno.removeSync(path);
  outbox.commit();
  assert.equal(errors().length, 2, JSON.stringify(lines));
  assert.match(errors()[1].msg, /recovered 5 queued message\(s\) and kept 2 not yet saved/);
  assert.deepEqual(outbox.peek(0, 100).map((m) => m.seq), [1, 2, 3, 4, 5, 6, 7]);
  assertCountersMatchRows(dir.path);
});

Deno.test("while a replacement is pending the hold stays within maxBytes and close() says what it could not save", async () => {
  await using dir = await tempDir("outbox-replace");
  const { log, lines } = captureLog();
  const outbox = open(dir.path, { log, maxBytes: 2_000 });
  outbox.append(AT, message);
  using _fs = readOnlyAfterCorruption();
  outbox.commit();
  for (let i = 0; i < 200; i++) outbox.append(AT, message); // never throws
  const s = outbox.stats();
  assert.ok(s.depth > 5 && s.depth < 30, `held ${s.depth}`);
  assert.equal(s.depth + s.dropped, 201, "every message held or counted");
  outbox.close();
  assert.deepEqual(
    lines.map((l) => l.level),
    ["error", "warn", "error", "info"],
    JSON.stringify(lines),
  );
  assert.match(
    lines[2].msg,
    new RegExp(`closed with ${s.depth} message\\(s\\) it could not save$`),
  );
});

/**
 * Storage I/O errors (SQLITE_IOERR, injected through the store's test seam):
 * transient, so nothing is moved aside and nothing is lost; only a failing
 * integrity check after repeated errors moves the file aside.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { openOutbox, type OutboxOptions } from "../../lib/outbox/outbox.ts";
import type { OutboxStore } from "../../lib/outbox/_store.ts";
import { type Op, Statements } from "../../lib/outbox/_statements.ts";
import { faultKind } from "../../lib/outbox/_sqlite.ts";
import { tempDir, waitFor } from "../_helpers.ts";
import {
  assertContiguous,
  assertCountersMatchRows,
  captureLog,
  committedSeqs,
  dbPath,
  message,
  quiet,
} from "./_util.ts";

const AT = Date.UTC(2026, 0, 2, 3, 4, 5);

/** Opens the outbox in `dir` with the fault seam reachable. */
function open(dir: string, options: Partial<OutboxOptions> = {}): OutboxStore {
  return openOutbox({ stateDir: dir, log: quiet, ...options }) as OutboxStore;
}

function fill(dir: string, n: number): void {
  using outbox = open(dir);
  for (let i = 0; i < n; i++) outbox.append(i, message);
}

function movedAside(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name)
    .filter((n) => n.includes(".corrupt-") && !/-(wal|shm)$/.test(n));
}

/** Checks that every stored body carries its own seq and mid. */
function assertBodies(dir: string, outbox: OutboxStore): void {
  for (const m of outbox.peek(0, 1_000_000)) {
    assert.deepEqual([JSON.parse(m.body).seq, JSON.parse(m.body).mid], [m.seq, m.mid]);
  }
  assertCountersMatchRows(dir);
}

const STORAGE_ERROR =
  /^Outbox storage error on ".*outbox\.db" \(disk I\/O error\): keeping unsaved messages in memory and retrying every .*; the database is not moved aside$/;

Deno.test("append() and commit() ride out I/O errors: nothing moved aside, nothing lost, one error line", async () => {
  await using dir = await tempDir("outbox-io");
  const { log, lines } = captureLog();
  using outbox = open(dir.path, { log, commitInterval: 60_000, commitEvery: 10 });
  for (let i = 0; i < 25; i++) outbox.append(i, message);
  outbox.commit();
  outbox.injectIoErrors(2);
  const seqs = [];
  for (let i = 25; i < 60; i++) seqs.push(outbox.append(i, message).seq);
  assert.deepEqual(seqs, Array.from({ length: 35 }, (_, i) => 26 + i), "append never throws");
  assert.equal(outbox.stats().depth, 60, "held messages count as queued");
  assert.equal(committedSeqs(dir.path).length, 25, "appends do not retry on every call");
  outbox.commit(); // the second injected error
  assert.equal(committedSeqs(dir.path).length, 25);
  outbox.commit();
  const stored = committedSeqs(dir.path);
  assert.equal(stored.length, 60, "every held message is written by the retry");
  assertContiguous(stored);
  assertBodies(dir.path, outbox);
  assert.deepEqual(movedAside(dir.path), []);
  const errors = lines.filter((l) => l.level === "error");
  assert.equal(errors.length, 1, JSON.stringify(lines));
  assert.match(errors[0].msg, STORAGE_ERROR);
  assert.equal(lines.filter((l) => /storage works again/.test(l.msg)).length, 1);
  assert.equal(outbox.append(AT, message).seq, 61);
});

Deno.test("ack() during an I/O error is held and applied with the next commit", async () => {
  await using dir = await tempDir("outbox-io");
  fill(dir.path, 10);
  using outbox = open(dir.path, { commitInterval: 60_000 });
  outbox.injectIoErrors(1);
  for (const seq of [1, 2, 3, 4]) assert.equal(outbox.ack(seq), true);
  assert.deepEqual(committedSeqs(dir.path), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  outbox.commit();
  assert.deepEqual(committedSeqs(dir.path), [5, 6, 7, 8, 9, 10]);
  assert.equal(outbox.stats().depth, 6);
  assertCountersMatchRows(dir.path);
});

Deno.test("acks made before an I/O error in the same batch are written with the held batch", async () => {
  await using dir = await tempDir("outbox-io");
  fill(dir.path, 10);
  using outbox = open(dir.path, { commitInterval: 60_000, commitEvery: 1_000 });
  for (const seq of [1, 2, 3]) assert.equal(outbox.ack(seq), true); // in the open transaction
  outbox.append(AT, message); // seq 11, same batch
  outbox.injectIoErrors(1);
  outbox.append(AT, message); // seq 12: the I/O error; the batch is held and rolled back
  assert.equal(outbox.ack(4), true); // held while lost
  outbox.commit();
  assert.deepEqual(committedSeqs(dir.path), [5, 6, 7, 8, 9, 10, 11, 12]);
  assert.equal(outbox.stats().depth, 8);
  assertCountersMatchRows(dir.path);
});

Deno.test("peek() after a read error returns nothing until the next commit, then everything", async () => {
  await using dir = await tempDir("outbox-io");
  fill(dir.path, 5);
  const { log, lines } = captureLog();
  using outbox = open(dir.path, { log, commitInterval: 60_000 });
  outbox.injectIoErrors(1);
  assert.deepEqual(outbox.peek(0, 10), []);
  outbox.commit();
  assert.deepEqual(outbox.peek(0, 10).map((m) => m.seq), [1, 2, 3, 4, 5]);
  assert.equal(lines.filter((l) => l.level === "error").length, 1);
  assert.deepEqual(movedAside(dir.path), []);
});

Deno.test("the commit timer retries after I/O errors; an intact file passes the integrity check and stays", async () => {
  await using dir = await tempDir("outbox-io");
  const { log, lines } = captureLog();
  using outbox = open(dir.path, { log, commitInterval: 20 });
  outbox.injectIoErrors(5); // more than the 3 in a row that trigger the check
  for (let i = 0; i < 5; i++) outbox.append(i, message);
  await waitFor(() => committedSeqs(dir.path).length === 5, { what: "the retried commit" });
  assertContiguous(committedSeqs(dir.path));
  assertBodies(dir.path, outbox);
  assert.deepEqual(movedAside(dir.path), [], "an I/O error is not corruption");
  assert.equal(lines.filter((l) => l.level === "error").length, 1, JSON.stringify(lines));
});

Deno.test("repeated I/O errors on a damaged file: moved aside, readable rows and the held batch kept", async () => {
  await using dir = await tempDir("outbox-io");
  fill(dir.path, 5000);
  const { log, lines } = captureLog();
  using outbox = open(dir.path, { log, now: () => AT, commitInterval: 60_000 });
  const size = (await Deno.stat(dbPath(dir.path))).size;
  const file = await Deno.open(dbPath(dir.path), { write: true });
  await file.seek(Math.floor(size / 4 / 4096) * 4096, Deno.SeekMode.Start);
  await file.write(new Uint8Array(size / 2).fill(0x5a));
  file.close();
  outbox.injectIoErrors(100);
  const held = [0, 1, 2].map(() => outbox.append(AT, message).seq);
  assert.deepEqual(held, [5001, 5002, 5003]);
  outbox.commit();
  outbox.commit(); // the third failure in a row: the integrity check finds the damage
  assert.deepEqual(movedAside(dir.path), ["outbox.db.corrupt-20260102T030405Z"]);
  const errors = lines.filter((l) => l.level === "error");
  assert.equal(errors.length, 2, JSON.stringify(lines));
  assert.match(errors[0].msg, STORAGE_ERROR);
  assert.match(
    errors[1].msg,
    /is unreadable \(.*found by an integrity check after I\/O errors\): moved it to ".*corrupt-20260102T030405Z" and started a new outbox; recovered (\d+) queued message\(s\)( \(skipped \d+ unreadable part\(s\)\))? and kept 3 not yet saved; any others will not be sent; seq continues at 10001$/,
  );
  const recovered = Number(/recovered (\d+)/.exec(errors[1].msg)![1]);
  const rows = outbox.peek(0, 1_000_000).map((m) => m.seq);
  assert.ok(recovered > 1000 && recovered < 5000, `recovered ${recovered}`);
  assert.equal(rows.length, recovered + 3);
  assert.deepEqual(rows.slice(-3), held, "the held messages keep their seq");
  assertBodies(dir.path, outbox);
  assert.equal(outbox.append(AT, message).seq, 10_001);
  assert.ok(Deno.statSync(join(dir.path, "outbox.db.corrupt-20260102T030405Z")).size > 0);
});

Deno.test("an I/O error while a full disk is being made room for holds the batch: nothing lost", async () => {
  await using dir = await tempDir("outbox-io");
  // The storage fails once right after the disk fills, while the oldest are dropped.
  const insert = Statements.prototype.insert;
  let armed = true;
  Statements.prototype.insert = function (this: Statements, row, replace) {
    try {
      insert.call(this, row, replace);
    } catch (error) {
      if (armed && faultKind(error) === "full") [armed, this.failNext] = [false, 1];
      throw error;
    }
  };
  try {
    using outbox = open(dir.path, { maxFileBytes: 96 * 1024, commitEvery: 50 });
    let appended = 0;
    let last = 0;
    for (let after = 0; after < 20; appended++) {
      last = outbox.append(appended, (s, m) => message(s, m, 150)).seq;
      if (!armed) after++;
    }
    outbox.commit();
    const seqs = committedSeqs(dir.path);
    assert.equal(seqs.at(-1), last, "the newest message is stored");
    assertContiguous(seqs, "only the oldest were dropped");
    assert.equal(seqs.length + outbox.stats().dropped, appended, "every message stored or counted");
    assertBodies(dir.path, outbox);
  } finally {
    Statements.prototype.insert = insert;
  }
});

Deno.test("an I/O error while filling the fresh database keeps the held batch for the next commit", async () => {
  await using dir = await tempDir("outbox-io");
  fill(dir.path, 2000);
  const { log, lines } = captureLog();
  using outbox = open(dir.path, { log, now: () => AT, commitInterval: 60_000 });
  const file = await Deno.open(dbPath(dir.path), { write: true });
  await file.seek(40 * 4096, Deno.SeekMode.Start);
  await file.write(new Uint8Array(8 * 4096).fill(0x5a));
  file.close();
  outbox.injectIoErrors(100);
  const held = [0, 1, 2].map(() => outbox.append(AT, message).seq);
  outbox.commit();
  // The third failure finds the damage; copying the held batch over fails once.
  const apply = Statements.prototype.apply;
  Statements.prototype.apply = function (this: Statements, op: Op) {
    Statements.prototype.apply = apply;
    this.failNext = 1;
    apply.call(this, op);
  };
  try {
    outbox.commit();
  } finally {
    Statements.prototype.apply = apply;
  }
  assert.equal(movedAside(dir.path).length, 1);
  outbox.commit();
  const seqs = outbox.peek(0, 1_000_000).map((m) => m.seq);
  assert.deepEqual(seqs.filter((s) => s > 2000), held, "the held messages are not lost");
  assert.equal(outbox.stats().depth, seqs.length);
  assertBodies(dir.path, outbox);
  // The rows read from the damaged file did not make it: counted, and said so in one line.
  const replaced = lines.filter((l) => /moved it to/.test(l.msg));
  assert.equal(replaced.length, 1, JSON.stringify(lines));
  const lost = Number(
    /; (\d+) readable one\(s\) could not be written to the new outbox \(disk I\/O error\) and count as dropped;/
      .exec(replaced[0].msg)?.[1],
  );
  assert.ok(lost > 1000 && lost < 2000, replaced[0].msg);
  assert.equal(outbox.stats().dropped, lost);
});

Deno.test("append() while the storage fails holds at most maxBytes: the oldest held go, counted, one line per episode", async () => {
  await using dir = await tempDir("outbox-io");
  const { log, lines } = captureLog();
  using outbox = open(dir.path, { log, maxBytes: 2_000, commitInterval: 60_000 });
  for (let i = 0; i < 3; i++) outbox.append(i + 1, message);
  outbox.commit(); // 3 on disk, older than everything held
  outbox.injectIoErrors(1_000);
  const seqs: number[] = [];
  for (let i = 0; i < 200; i++) seqs.push(outbox.append(AT, message).seq); // never throws
  const s = outbox.stats();
  assert.ok(s.bytes <= 2_000 + 3 * 200 && s.depth < 30, `held ${s.depth} (${s.bytes} bytes)`);
  assert.equal(s.depth + s.dropped, 203, "every message held or counted");
  assert.equal(s.oldestCreated, 1, "the rows on disk are still there");
  assert.deepEqual(lines.map((l) => l.level), ["error", "warn"], JSON.stringify(lines));
  assert.match(
    lines[1].msg,
    /^Outbox cannot save to ".*outbox\.db" and holds outbox\.maxBytes \(2000\) of unsaved messages in memory: dropping the oldest until the storage works again$/,
  );
  outbox.injectIoErrors(0);
  outbox.commit();
  outbox.append(AT, message); // the bound drops the older rows on disk too
  outbox.commit();
  const stored = committedSeqs(dir.path);
  assert.equal(stored.at(-1), 204, "the newest are kept");
  assertContiguous(stored, "only the oldest were dropped");
  assert.ok(!stored.includes(1), "the rows on disk went before any held one");
  assert.equal(stored.length + outbox.stats().dropped, 204, "the dropped count is exact");
  assertBodies(dir.path, outbox);
});

Deno.test("close() with messages it cannot save says how many are lost", async () => {
  await using dir = await tempDir("outbox-io");
  const { log, lines } = captureLog();
  const outbox = open(dir.path, { log, commitInterval: 60_000 });
  outbox.injectIoErrors(1_000);
  outbox.append(AT, message);
  outbox.append(AT, message);
  outbox.close();
  const last = lines.at(-1)!;
  assert.equal(last.level, "error");
  assert.match(last.msg, /closed with 2 message\(s\) it could not save$/);
  assert.deepEqual(movedAside(dir.path), []);
});

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { LeafError } from "../../lib/errors.ts";
import { openOutbox } from "../../lib/outbox/outbox.ts";
import { Statements } from "../../lib/outbox/_statements.ts";
import type { OutboxStore } from "../../lib/outbox/_store.ts";
import { tempDir } from "../_helpers.ts";
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

/** Fills the outbox in `dir` with `n` committed messages. */
function fill(dir: string, n: number, reserveBlock = 10_000): void {
  using outbox = openOutbox({ stateDir: dir, log: quiet, reserveBlock });
  for (let i = 0; i < n; i++) outbox.append(i, message);
}

function names(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name).sort();
}

Deno.test("openOutbox() moves a corrupt database aside and starts fresh above the seq reserve", async () => {
  await using dir = await tempDir("outbox-faults");
  fill(dir.path, 100);
  const garbage = new Uint8Array(64 * 1024).map((_, i) => (i * 7919) & 0xff);
  await Deno.writeFile(dbPath(dir.path), garbage);
  const { log, lines } = captureLog();
  using outbox = openOutbox({ stateDir: dir.path, log, now: () => AT });
  const aside = join(dir.path, "outbox.db.corrupt-20260102T030405Z");
  assert.deepEqual(await Deno.readFile(aside), garbage, "the damaged file is kept, unchanged");
  assert.equal(lines.length, 1, JSON.stringify(lines));
  assert.equal(lines[0].level, "error");
  assert.ok(lines[0].msg.includes(`"${dbPath(dir.path)}" is unreadable (file is not a database)`));
  assert.ok(lines[0].msg.includes(`moved it to "${aside}"`));
  assert.match(lines[0].msg, /seq continues at 10001/);
  const s = outbox.stats();
  assert.deepEqual([s.depth, s.nextSeq], [0, 10_001]);
  assert.equal(outbox.append(AT, message).seq, 10_001, "no seq below the reserve is reused");
});

Deno.test("openOutbox() refuses a database from a newer leaf and leaves it in place", async () => {
  await using dir = await tempDir("outbox-faults");
  fill(dir.path, 3);
  const db = new DatabaseSync(dbPath(dir.path));
  db.exec("PRAGMA user_version = 99");
  db.close();
  assert.throws(
    () => openOutbox({ stateDir: dir.path, log: quiet }),
    (e) =>
      e instanceof LeafError && e.exitCode === 2 && e.code === "outbox.schema_newer" &&
      /schema version 99, this leaf knows up to 1/.test(e.message) && /newer leaf/.test(e.hint!),
  );
  assert.deepEqual(names(dir.path), ["outbox.db", "outbox.lock", "seq.reserve"]);
  assert.deepEqual(committedSeqs(dir.path), [1, 2, 3], "the newer leaf's messages are intact");
  assert.throws(
    () => openOutbox({ stateDir: dir.path, log: quiet }),
    (e) => e instanceof LeafError && e.code === "outbox.schema_newer",
    "refused again for the same reason: the failed open released its lock",
  );
});

Deno.test("openOutbox() moves aside a SQLite file that is not a leaf outbox", async () => {
  await using dir = await tempDir("outbox-faults");
  const db = new DatabaseSync(dbPath(dir.path));
  db.exec("CREATE TABLE something (x); INSERT INTO something VALUES (1)");
  db.close();
  const { log, lines } = captureLog();
  using outbox = openOutbox({ stateDir: dir.path, log, now: () => AT });
  assert.match(lines[0].msg, /not a leaf outbox/);
  assert.ok(names(dir.path).includes("outbox.db.corrupt-20260102T030405Z"));
  assert.equal(outbox.append(1, message).seq, 1, "no reserve yet: a first start");
});

Deno.test("openOutbox() starts above the seq reserve when the database was deleted", async () => {
  await using dir = await tempDir("outbox-faults");
  fill(dir.path, 5, 100);
  assert.equal((await Deno.readTextFile(join(dir.path, "seq.reserve"))).trim(), "101");
  await Deno.remove(dbPath(dir.path));
  using outbox = openOutbox({ stateDir: dir.path, log: quiet, reserveBlock: 100 });
  assert.equal(outbox.append(1, message).seq, 101);
  assert.equal((await Deno.readTextFile(join(dir.path, "seq.reserve"))).trim(), "201");
});

Deno.test("openOutbox() keeps only the newest moved-aside copies", async () => {
  await using dir = await tempDir("outbox-faults");
  for (let i = 0; i < 5; i++) {
    await Deno.writeTextFile(dbPath(dir.path), "not a database".repeat(100));
    using _outbox = openOutbox({ stateDir: dir.path, log: quiet, now: () => AT + i * 1000 });
  }
  const aside = names(dir.path).filter((n) => n.includes("corrupt"));
  assert.deepEqual(aside, [
    "outbox.db.corrupt-20260102T030407Z",
    "outbox.db.corrupt-20260102T030408Z",
    "outbox.db.corrupt-20260102T030409Z",
  ]);
});

Deno.test("append() survives a full disk: drops the oldest, retries, never throws", async () => {
  await using dir = await tempDir("outbox-faults");
  const { log, lines } = captureLog();
  let last = 0;
  {
    using outbox = openOutbox({
      stateDir: dir.path,
      log,
      maxFileBytes: 96 * 1024,
      commitEvery: 50,
    });
    for (let i = 0; i < 3000; i++) last = outbox.append(i, (s, m) => message(s, m, 150)).seq;
    const s = outbox.stats();
    assert.ok(s.dropped > 1000, `dropped ${s.dropped}`);
    assert.equal(s.newestSeq, 3000);
  }
  const seqs = committedSeqs(dir.path);
  assert.equal(seqs.at(-1), last, "the newest message is stored");
  assertContiguous(seqs, "only the oldest were dropped");
  assertCountersMatchRows(dir.path);
  const warns = lines.filter((l) => l.level === "warn");
  assert.equal(warns.length, 1, JSON.stringify(lines.slice(0, 5)));
  assert.match(warns[0].msg, /^Disk full writing ".*outbox\.db": dropping the oldest/);
  assert.equal(lines.filter((l) => l.level === "error").length, 0);
});

Deno.test("a batch that does not fit a full disk even alone: older rows go first, its newest and its acks are kept", async () => {
  await using dir = await tempDir("outbox-faults");
  const { log, lines } = captureLog();
  const big = (s: number, m: string) => message(s, m, 1000);
  using outbox = openOutbox({
    stateDir: dir.path,
    log,
    maxFileBytes: 96 * 1024,
    commitInterval: 60_000,
    commitEvery: 10_000,
  }) as OutboxStore;
  for (let i = 0; i < 30; i++) outbox.append(i, big);
  outbox.commit();
  outbox.injectIoErrors(1); // a storage hiccup: the batch below is held in memory
  for (const seq of [1, 2, 3, 4, 5]) assert.ok(outbox.ack(seq));
  let last = 0;
  for (let i = 0; i < 150; i++) last = outbox.append(100 + i, big).seq; // ~160 KB
  outbox.commit(); // writes it all at once: the disk is full even with every older row gone
  const seqs = committedSeqs(dir.path);
  assert.equal(seqs.at(-1), last, "the newest message is stored");
  assertContiguous(seqs, "only the oldest were dropped");
  assert.ok(seqs[0] > 30, `every older row went before any of the batch (${seqs[0]})`);
  const { dropped } = outbox.stats();
  assert.equal(seqs.length + dropped + 5, 180, "the acked 5 are not resent nor counted as dropped");
  assertCountersMatchRows(dir.path);
  const warns = lines.filter((l) => l.level === "warn");
  assert.equal(warns.length, 1, JSON.stringify(lines));
  assert.match(warns[0].msg, /^Disk full writing ".*outbox\.db": dropping the oldest/);
});

Deno.test("a disk too full for even the deletes: the batch's rows are counted as dropped, its acks kept", async () => {
  await using dir = await tempDir("outbox-faults");
  using outbox = openOutbox({
    stateDir: dir.path,
    log: quiet,
    commitInterval: 60_000,
    commitEvery: 10_000,
  });
  for (let i = 0; i < 10; i++) outbox.append(i, message);
  outbox.commit();
  for (const seq of [1, 2, 3]) assert.ok(outbox.ack(seq));
  for (let i = 0; i < 5; i++) outbox.append(i, message);
  const { commit } = Statements.prototype;
  Statements.prototype.commit = () => {
    throw Object.assign(new Error("database or disk is full"), { errcode: 13 });
  };
  try {
    outbox.commit(); // never throws
  } finally {
    Statements.prototype.commit = commit;
  }
  assert.equal(outbox.stats().dropped, 5, "the batch's rows, counted");
  outbox.commit();
  assert.deepEqual(committedSeqs(dir.path), [4, 5, 6, 7, 8, 9, 10], "the acks were kept");
  assert.equal(outbox.stats().dropped, 5);
  assertCountersMatchRows(dir.path);
});

Deno.test("peek() on a database corrupted under a running outbox replaces it, keeping the readable rows", async () => {
  await using dir = await tempDir("outbox-faults");
  fill(dir.path, 5000, 10_000);
  const { log, lines } = captureLog();
  using outbox = openOutbox({ stateDir: dir.path, log, now: () => AT });
  const size = (await Deno.stat(dbPath(dir.path))).size;
  const file = await Deno.open(dbPath(dir.path), { write: true });
  await file.seek(Math.floor(size / 4 / 4096) * 4096, Deno.SeekMode.Start);
  await file.write(new Uint8Array(size / 2).fill(0x5a));
  file.close();
  let after = 0;
  for (let batch = outbox.peek(0, 100); batch.length > 0; batch = outbox.peek(after, 100)) {
    after = batch.at(-1)!.seq;
  }
  assert.ok(after < 5000, "the damaged part was not readable");
  const errors = lines.filter((l) => l.level === "error");
  assert.equal(errors.length, 1, JSON.stringify(lines));
  assert.match(errors[0].msg, /malformed.*moved it to ".*corrupt-20260102T030405Z"/);
  const recovered = Number(/recovered (\d+) queued message/.exec(errors[0].msg)?.[1]);
  assert.equal(outbox.append(AT, message).seq, 10_001, "seq continues above the reserve");
  outbox.commit();
  const rows = outbox.peek(0, 100_000);
  assert.equal(rows.length, recovered + 1, errors[0].msg);
  assert.equal(rows.at(-1)!.seq, 10_001);
  const kept = rows.slice(0, -1);
  assert.ok(kept.length >= after, `at least the rows read before the damage (${after})`);
  assert.ok(kept.length < 5000, "the damaged pages are gone");
  assert.ok(kept.at(-1)!.seq > kept.length, "rows behind the damaged pages were recovered too");
  for (const m of kept) {
    assert.deepEqual([JSON.parse(m.body).seq, JSON.parse(m.body).mid], [m.seq, m.mid]);
    assert.equal(m.props, message(m.seq, m.mid).props);
    assert.equal(m.created, m.seq - 1, "created as appended by fill()");
  }
  assert.equal(outbox.stats().depth, recovered + 1);
  assertCountersMatchRows(dir.path);
});

Deno.test("openOutbox() logs an unreadable seq reserve and keeps going", async () => {
  await using dir = await tempDir("outbox-faults");
  fill(dir.path, 3);
  await Deno.writeTextFile(join(dir.path, "seq.reserve"), "garbage");
  const { log, lines } = captureLog();
  using outbox = openOutbox({ stateDir: dir.path, log });
  assert.match(lines[0].msg, /Sequence reserve unusable: ".*seq\.reserve" does not hold/);
  assert.equal(outbox.append(1, message).seq, 4);
  assert.equal((await Deno.readTextFile(join(dir.path, "seq.reserve"))).trim(), "10004");
});

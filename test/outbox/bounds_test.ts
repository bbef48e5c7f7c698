import assert from "node:assert/strict";
import { openOutbox } from "../../lib/outbox/outbox.ts";
import { tempDir } from "../_helpers.ts";
import {
  assertContiguous,
  assertCountersMatchRows,
  captureLog,
  committedSeqs,
  message,
  quiet,
} from "./_util.ts";

const utf8 = (s: string) => new TextEncoder().encode(s).length;
const fixedIds = () => {
  let n = 0;
  return () => `id-${String(++n).padStart(4, "0")}`;
};

Deno.test("append() drops the oldest beyond maxBytes, counts them, and logs once per episode", async () => {
  await using dir = await tempDir("outbox-bounds");
  const { log, lines } = captureLog();
  const maxBytes = 1024;
  // Expected, by simulation of "drop the oldest while over the bound, keep the newest".
  const queue: { seq: number; bytes: number }[] = [];
  let dropped = 0;
  let droppedBytes = 0;
  const ids = fixedIds();
  {
    using outbox = openOutbox({ stateDir: dir.path, log, maxBytes, newId: ids });
    for (let i = 0; i < 50; i++) {
      const { seq, mid } = outbox.append(i, message);
      const m = message(seq, mid);
      queue.push({ seq, bytes: utf8(m.body) + utf8(m.props) });
      let sum = queue.reduce((s, q) => s + q.bytes, 0);
      while (sum > maxBytes && queue.length > 1) {
        const gone = queue.shift()!;
        sum -= gone.bytes;
        dropped++;
        droppedBytes += gone.bytes;
      }
    }
    const s = outbox.stats();
    assert.ok(dropped > 30, `the test drops many (${dropped})`);
    assert.deepEqual(
      { depth: s.depth, bytes: s.bytes, dropped: s.dropped, droppedBytes: s.droppedBytes },
      { depth: queue.length, bytes: queue.reduce((x, q) => x + q.bytes, 0), dropped, droppedBytes },
    );
    assert.ok(s.bytes <= maxBytes);
    assert.equal(s.oldestCreated, queue[0].seq - 1, "oldestCreated follows the head");
  }
  assert.deepEqual(committedSeqs(dir.path), queue.map((q) => q.seq));
  assertCountersMatchRows(dir.path);
  const warns = lines.filter((l) => l.level === "warn");
  assert.equal(warns.length, 1, JSON.stringify(lines));
  assert.match(warns[0].msg, /Outbox is full \(outbox\.maxBytes = 1KiB\): dropping the oldest/);

  let clock = Date.UTC(2026, 0, 1);
  using outbox = openOutbox({ stateDir: dir.path, log, maxBytes, newId: ids, now: () => clock });
  const s = outbox.stats();
  assert.deepEqual([s.dropped, s.droppedBytes], [dropped, droppedBytes], "persisted across reopen");
  for (let i = 0; i < 10; i++) outbox.append(100 + i, message);
  outbox.commit();
  assert.equal(lines.filter((l) => l.level === "warn").length, 2, "a new process, a new episode");
  assert.ok(outbox.ack(outbox.peek(0, 1)[0].seq));
  assert.equal(lines.filter((l) => /delivering again/.test(l.msg)).length, 0, "drops just now");
  clock += 30_000;
  assert.ok(outbox.ack(outbox.peek(0, 1)[0].seq), "an ack after 30 s without drops ends it");
  assert.equal(lines.filter((l) => /delivering again/.test(l.msg)).length, 1);
  for (let i = 0; i < 10; i++) outbox.append(200 + i, message);
  assert.equal(lines.filter((l) => l.level === "warn").length, 3, "and drops after it log again");
});

Deno.test("a slow link that drops and delivers at once logs one episode, not one per commit", async () => {
  await using dir = await tempDir("outbox-bounds");
  const { log, lines } = captureLog();
  let clock = Date.UTC(2026, 0, 1);
  using outbox = openOutbox({ stateDir: dir.path, log, maxBytes: 1024, now: () => clock });
  for (let cycle = 0; cycle < 50; cycle++) {
    for (let i = 0; i < 5; i++) outbox.append(clock, message); // faster than the link
    outbox.commit();
    assert.ok(outbox.ack(outbox.peek(0, 1)[0].seq)); // the link takes one per second
    clock += 1_000;
  }
  assert.ok(outbox.stats().dropped > 100, `the test drops (${outbox.stats().dropped})`);
  assert.equal(lines.filter((l) => l.level === "warn").length, 1, JSON.stringify(lines));
  assert.equal(lines.filter((l) => /delivering again/.test(l.msg)).length, 0);
});

Deno.test("append() keeps one message larger than maxBytes rather than drop everything", async () => {
  await using dir = await tempDir("outbox-bounds");
  using outbox = openOutbox({ stateDir: dir.path, log: quiet, maxBytes: 100 });
  outbox.append(1, (s, m) => message(s, m, 10));
  outbox.append(2, (s, m) => message(s, m, 500));
  outbox.commit();
  assert.deepEqual(outbox.peek(0, 10).map((m) => m.seq), [2]);
  assert.equal(outbox.stats().dropped, 1);
});

Deno.test("append() and openOutbox() drop messages older than maxAge by the injected clock", async () => {
  await using dir = await tempDir("outbox-bounds");
  const { log, lines } = captureLog();
  let now = 1_000_000;
  const clock = () => now;
  {
    using outbox = openOutbox({ stateDir: dir.path, log, now: clock, maxAge: 60_000 });
    for (const at of [0, 10_000, 20_000]) {
      now = 1_000_000 + at;
      outbox.append(now, message);
    }
    now = 1_065_000;
    outbox.append(now, message); // seq 1 (created 1_000_000) is now 65 s old
    outbox.commit();
    assert.deepEqual(outbox.peek(0, 10).map((m) => m.seq), [2, 3, 4]);
    const s = outbox.stats();
    assert.deepEqual([s.dropped, s.depth, s.oldestCreated], [1, 3, 1_010_000]);
  }
  now = 1_075_000; // seq 2 (1_010_000) is 65 s old at open
  {
    using outbox = openOutbox({ stateDir: dir.path, log, now: clock, maxAge: 60_000 });
    assert.deepEqual(outbox.peek(0, 10).map((m) => m.seq), [3, 4]);
    assert.equal(outbox.stats().dropped, 2);
  }
  assert.deepEqual(committedSeqs(dir.path), [3, 4], "the drop at open is committed");
  assertCountersMatchRows(dir.path);
  const warns = lines.filter((l) => l.level === "warn");
  assert.ok(warns.length >= 1 && warns.every((w) => /outbox\.maxAge \(1m\)/.test(w.msg)));
  now = 10_000_000;
  using outbox = openOutbox({ stateDir: dir.path, log, now: clock, maxAge: 60_000 });
  const s = outbox.stats();
  assert.deepEqual([s.depth, s.dropped, s.oldestCreated], [0, 4, undefined]);
  assert.equal(outbox.append(now, message).seq, 5, "seq continues after everything expired");
});

Deno.test("append() with a full queue keeps seqs contiguous among the survivors", async () => {
  await using dir = await tempDir("outbox-bounds");
  {
    using outbox = openOutbox({ stateDir: dir.path, log: quiet, maxBytes: 20_000, commitEvery: 7 });
    for (let i = 0; i < 3000; i++) {
      outbox.append(i, (s, m) => message(s, m, i % 50));
      if (i % 97 === 0) {
        for (const m of outbox.peek(0, 3)) outbox.ack(m.seq);
      }
    }
  }
  const seqs = committedSeqs(dir.path);
  assert.equal(seqs.at(-1), 3000);
  assertCountersMatchRows(dir.path);
  assertContiguous(seqs.slice(seqs.length - 20));
});

import assert from "node:assert/strict";
import { SCHEMA } from "../../lib/config/schema.ts";
import type { ObjectField } from "../../lib/config/schema_types.ts";
import { LeafError } from "../../lib/errors.ts";
import { openOutbox, OUTBOX_DEFAULTS } from "../../lib/outbox/outbox.ts";
import { tempDir } from "../_helpers.ts";
import { assertCountersMatchRows, committedSeqs, message, quiet } from "./_util.ts";

const SLOW = { commitInterval: 60_000, commitEvery: 1_000_000 };

Deno.test("openOutbox() creates the state dir and numbers messages 1, 2, 3 across reopen", async () => {
  await using dir = await tempDir("outbox");
  const stateDir = `${dir.path}/state/leaf`;
  {
    using outbox = openOutbox({ stateDir, log: quiet });
    assert.deepEqual([1, 2, 3].map(() => outbox.append(1000, message).seq), [1, 2, 3]);
  }
  using outbox = openOutbox({ stateDir, log: quiet });
  assert.equal(outbox.append(1000, message).seq, 4);
  outbox.commit();
  assert.deepEqual(outbox.peek(0, 10).map((m) => m.seq), [1, 2, 3, 4]);
  assert.equal(outbox.stats().nextSeq, 5);
});

Deno.test("append() hands the same seq and mid to build and to peek", async () => {
  await using dir = await tempDir("outbox");
  let n = 0;
  using outbox = openOutbox({ stateDir: dir.path, log: quiet, newId: () => `id-${++n}` });
  const { seq, mid } = outbox.append(1234, message);
  assert.deepEqual({ seq, mid }, { seq: 1, mid: "id-1" });
  outbox.commit();
  const [m] = outbox.peek(0, 1);
  assert.deepEqual(m, {
    seq: 1,
    mid: "id-1",
    created: 1234,
    props: "%24.mid=id-1&%24.ct=application%2Fjson&%24.ce=utf-8",
    body: JSON.stringify({ seq: 1, mid: "id-1", pad: "" }),
  });
});

Deno.test("append() batches: rows reach the disk only at commit, and peek sees only committed rows", async () => {
  await using dir = await tempDir("outbox");
  using outbox = openOutbox({ stateDir: dir.path, log: quiet, ...SLOW });
  outbox.append(1, message);
  outbox.append(2, message);
  outbox.commit();
  outbox.append(3, message);
  outbox.append(4, message);
  assert.deepEqual(committedSeqs(dir.path), [1, 2], "second connection: committed only");
  assert.deepEqual(outbox.peek(0, 10).map((m) => m.seq), [1, 2], "peek: committed only");
  assert.equal(outbox.stats().committedSeq, 2);
  assert.equal(outbox.stats().depth, 4);
  outbox.commit();
  assert.deepEqual(committedSeqs(dir.path), [1, 2, 3, 4]);
  assert.deepEqual(outbox.peek(2, 10).map((m) => m.seq), [3, 4]);
  assertCountersMatchRows(dir.path);
});

Deno.test("append() commits after commitEvery appends and tells onCommitted", async () => {
  await using dir = await tempDir("outbox");
  using outbox = openOutbox({
    stateDir: dir.path,
    log: quiet,
    commitInterval: 60_000,
    commitEvery: 3,
  });
  const seen: number[] = [];
  outbox.onCommitted((e) => seen.push(e.committedSeq));
  for (let i = 0; i < 7; i++) outbox.append(i, message);
  assert.deepEqual(seen, [3, 6]);
  assert.deepEqual(committedSeqs(dir.path), [1, 2, 3, 4, 5, 6]);
});

Deno.test("append() commits after commitInterval without further calls", async () => {
  await using dir = await tempDir("outbox");
  using outbox = openOutbox({ stateDir: dir.path, log: quiet, commitInterval: 30 });
  const committed = new Promise<number>((resolve) => {
    const off = outbox.onCommitted((e) => {
      off();
      resolve(e.committedSeq);
    });
  });
  outbox.append(1, message);
  outbox.append(2, message);
  assert.deepEqual(committedSeqs(dir.path), []);
  assert.equal(await committed, 2);
  assert.deepEqual(committedSeqs(dir.path), [1, 2]);
});

Deno.test("ack() deletes in the next commit and survives reopen", async () => {
  await using dir = await tempDir("outbox");
  {
    using outbox = openOutbox({ stateDir: dir.path, log: quiet, ...SLOW });
    for (let i = 0; i < 5; i++) outbox.append(i, message);
    assert.equal(outbox.ack(1), false, "not committed yet: nothing to ack");
    outbox.commit();
    assert.equal(outbox.ack(1), true);
    assert.equal(outbox.ack(2), true);
    assert.equal(outbox.ack(2), false, "already acked");
    assert.equal(outbox.ack(99), false);
    assert.deepEqual(committedSeqs(dir.path), [1, 2, 3, 4, 5], "deletes are batched");
    assert.deepEqual(outbox.peek(0, 10).map((m) => m.seq), [3, 4, 5]);
    const s = outbox.stats();
    assert.equal(s.depth, 3);
    assert.equal(s.oldestCreated, 2);
    outbox.commit();
    assert.deepEqual(committedSeqs(dir.path), [3, 4, 5]);
    outbox.ack(4);
  }
  assertCountersMatchRows(dir.path);
  using outbox = openOutbox({ stateDir: dir.path, log: quiet });
  assert.deepEqual(outbox.peek(0, 10).map((m) => m.seq), [3, 5], "close commits pending acks");
  const s = outbox.stats();
  assert.deepEqual([s.depth, s.nextSeq, s.oldestCreated], [2, 6, 2]);
});

Deno.test("openOutbox() refuses a second writer on the same stateDir", async () => {
  await using dir = await tempDir("outbox");
  using _first = openOutbox({ stateDir: dir.path, log: quiet });
  assert.throws(
    () => openOutbox({ stateDir: dir.path, log: quiet }),
    (e) => e instanceof LeafError && e.exitCode === 2 && /in use by another leaf/.test(e.message),
  );
});

Deno.test("openOutbox() reports an unwritable stateDir as a config error", async () => {
  await using dir = await tempDir("outbox");
  await Deno.writeTextFile(`${dir.path}/file`, "");
  assert.throws(
    () => openOutbox({ stateDir: `${dir.path}/file/sub`, log: quiet }),
    (e) => e instanceof LeafError && e.exitCode === 2 && /stateDir/.test(e.message),
  );
});

Deno.test("append() rejects a build that does not return strings and a reentrant append", async () => {
  await using dir = await tempDir("outbox");
  using outbox = openOutbox({ stateDir: dir.path, log: quiet });
  assert.throws(
    () => outbox.append(1, () => ({ body: 1 as unknown as string, props: "" })),
    TypeError,
  );
  assert.throws(
    () => outbox.append(1, () => outbox.append(2, message) && message(0, "")),
    /own build/,
  );
  assert.equal(outbox.append(1, message).seq, 1, "failed builds consume no seq");
});

Deno.test("close() is idempotent and later calls fail clearly", async () => {
  await using dir = await tempDir("outbox");
  const outbox = openOutbox({ stateDir: dir.path, log: quiet });
  outbox.append(1, message);
  outbox.close();
  outbox.close();
  assert.throws(() => outbox.append(1, message), /is closed/);
  assert.deepEqual(committedSeqs(dir.path), [1], "close committed the batch");
});

Deno.test("OUTBOX_DEFAULTS match the config schema's outbox defaults", () => {
  const fields = (SCHEMA.fields.outbox as ObjectField).fields as Record<
    string,
    { default?: unknown }
  >;
  assert.equal(OUTBOX_DEFAULTS.maxBytes, fields.maxBytes.default);
  assert.equal(OUTBOX_DEFAULTS.maxBytes, 64 * 1024 * 1024);
  assert.equal(OUTBOX_DEFAULTS.commitInterval, fields.commitInterval.default);
  assert.equal(OUTBOX_DEFAULTS.commitEvery, fields.commitEvery.default);
  assert.equal(fields.maxAge.default, undefined);
});

Deno.test("openOutbox() rejects out-of-range options as a bug (RangeError)", () => {
  assert.throws(() => openOutbox({ stateDir: "/nonexistent", commitEvery: 0 }), RangeError);
  assert.throws(() => openOutbox({ stateDir: "/nonexistent", maxBytes: -1 }), RangeError);
});

Deno.test("peek() pages through the queue in seq order", async () => {
  await using dir = await tempDir("outbox");
  using outbox = openOutbox({ stateDir: dir.path, log: quiet });
  for (let i = 0; i < 250; i++) outbox.append(i, message);
  outbox.commit();
  const seen: number[] = [];
  for (let batch = outbox.peek(0, 32); batch.length > 0; batch = outbox.peek(seen.at(-1)!, 32)) {
    seen.push(...batch.map((m) => m.seq));
  }
  assert.deepEqual(seen, Array.from({ length: 250 }, (_, i) => i + 1));
  assert.deepEqual(outbox.peek(0, 0), []);
});

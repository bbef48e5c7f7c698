/**
 * The dropped counters stay exact when a full disk rolls a batch back: drops
 * of rows that no write carries (held rows dropped while the storage failed,
 * a batch too big for a full disk) are not undone by the rollback.
 */
import assert from "node:assert/strict";
import { openOutbox, type OutboxOptions } from "../../lib/outbox/outbox.ts";
import type { OutboxStore } from "../../lib/outbox/_store.ts";
import { Statements } from "../../lib/outbox/_statements.ts";
import { tempDir } from "../_helpers.ts";
import {
  assertContiguous,
  assertCountersMatchRows,
  committedSeqs,
  message,
  quiet,
} from "./_util.ts";

const AT = Date.UTC(2026, 0, 2, 3, 4, 5);

function open(dir: string, options: Partial<OutboxOptions> = {}): OutboxStore {
  return openOutbox({
    stateDir: dir,
    log: quiet,
    commitInterval: 60_000,
    commitEvery: 10_000,
    ...options,
  }) as OutboxStore;
}

/** The next `n` COMMITs fail with SQLITE_FULL. */
function diskFull(n = Infinity): Disposable {
  const { commit } = Statements.prototype;
  let left = n;
  Statements.prototype.commit = function (this: Statements, meta) {
    if (left-- > 0) throw Object.assign(new Error("database or disk is full"), { errcode: 13 });
    commit.call(this, meta);
  };
  return { [Symbol.dispose]: () => void (Statements.prototype.commit = commit) };
}

Deno.test("a disk too full for even the deletes, batch after batch: every batch's rows stay counted", async () => {
  await using dir = await tempDir("outbox-drops");
  {
    using outbox = open(dir.path);
    for (let i = 0; i < 10; i++) outbox.append(i, message);
    outbox.commit();
    {
      using _full = diskFull();
      for (let i = 0; i < 5; i++) outbox.append(AT, message);
      outbox.commit();
      assert.equal(outbox.stats().dropped, 5);
      outbox.append(AT, message);
      outbox.commit();
      assert.equal(outbox.stats().dropped, 6, "the first batch's count is not rolled back");
    }
    outbox.commit();
    assert.equal(outbox.stats().dropped, 6);
  }
  using again = open(dir.path);
  assert.equal(again.stats().dropped, 6, "persisted");
  assert.deepEqual(committedSeqs(dir.path), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  assertCountersMatchRows(dir.path);
});

Deno.test("held messages dropped while the storage failed stay counted when the retry finds the disk full", async () => {
  await using dir = await tempDir("outbox-drops");
  using outbox = open(dir.path, { maxBytes: 2_000 });
  for (let i = 0; i < 3; i++) outbox.append(i + 1, message);
  outbox.commit();
  outbox.injectIoErrors(1_000);
  for (let i = 0; i < 200; i++) outbox.append(AT, message); // the oldest held are dropped
  const held = outbox.stats();
  assert.equal(held.depth + held.dropped, 203);
  outbox.injectIoErrors(0);
  {
    using _full = diskFull(1);
    outbox.commit(); // the storage works again, but the disk is full once
  }
  const s = outbox.stats();
  const stored = committedSeqs(dir.path);
  assert.equal(stored.at(-1), 203, "the newest are kept");
  assertContiguous(stored, "only the oldest were dropped");
  assert.equal(s.depth, stored.length);
  assert.equal(stored.length + s.dropped, 203, "every message stored or counted");
  assertCountersMatchRows(dir.path);
});

Deno.test("held messages already dropped by the bound in their batch stay counted after a full disk", async () => {
  await using dir = await tempDir("outbox-drops");
  // Room for one message: every append drops the one before it, in the same batch.
  using outbox = open(dir.path, { maxBytes: 200 });
  for (let i = 0; i < 5; i++) outbox.append(AT, message);
  outbox.injectIoErrors(1_000);
  for (let i = 0; i < 5; i++) outbox.append(AT, message); // held; the oldest held go
  assert.equal(outbox.stats().depth + outbox.stats().dropped, 10);
  outbox.injectIoErrors(0);
  {
    using _full = diskFull(1);
    outbox.commit();
  }
  const s = outbox.stats();
  assert.deepEqual(committedSeqs(dir.path), [10]);
  assert.equal(s.depth + s.dropped, 10, "every message stored or counted");
  assertCountersMatchRows(dir.path);
});

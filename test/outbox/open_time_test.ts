/**
 * Opening a large queue: with 100 000 messages queued, `openOutbox()` to the
 * first `peek` is printed (the figure for the issue note) and the result
 * checked for correctness only; timing is asserted by nobody, so a slow CI
 * machine does not fail it.
 */
import assert from "node:assert/strict";
import { openOutbox } from "../../lib/outbox/outbox.ts";
import { tempDir } from "../_helpers.ts";
import { message, quiet } from "./_util.ts";

const COUNT = 100_000;

Deno.test("openOutbox() with 100 000 queued is ready to peek at once, counters intact", async () => {
  await using dir = await tempDir("outbox-open");
  {
    using outbox = openOutbox({ stateDir: dir.path, log: quiet, commitEvery: 1000 });
    for (let i = 0; i < COUNT; i++) outbox.append(i, (s, m) => message(s, m, 100));
  }
  const t0 = performance.now();
  using outbox = openOutbox({ stateDir: dir.path, log: quiet });
  const first = outbox.peek(0, 32);
  const stats = outbox.stats();
  const ms = performance.now() - t0;
  console.log(`    openOutbox() -> first peek with ${COUNT} queued: ${ms.toFixed(1)} ms`);
  assert.deepEqual(first.map((m) => m.seq), Array.from({ length: 32 }, (_, i) => i + 1));
  assert.equal(stats.depth, COUNT);
  assert.equal(stats.nextSeq, COUNT + 1);
  assert.equal(stats.oldestCreated, 0);
  assert.ok(stats.bytes > COUNT * 200);
});

/**
 * An append that finds the database corrupt: the file is replaced and the row
 * stored in the fresh one, above the seq reserve. When that write fails too
 * (an I/O error, or corruption again), append() still does not throw: the row
 * is held in memory, counted, and written by the commit timer.
 */
import assert from "node:assert/strict";
import { Statements } from "../../lib/outbox/_statements.ts";
import { openOutbox } from "../../lib/outbox/outbox.ts";
import { tempDir, waitFor } from "../_helpers.ts";
import { assertCountersMatchRows, captureLog, message } from "./_util.ts";

const AT = Date.UTC(2026, 0, 2, 3, 4, 5);

const corrupt = () =>
  Object.assign(new Error("database disk image is malformed"), {
    errcode: 11,
    errstr: "database disk image is malformed",
  });

type Fault = "corrupt" | "io";

/** The next appends' inserts (not replays) fail with `faults`, in order. Dispose to undo. */
function failInserts(...faults: Fault[]): Disposable {
  const { insert } = Statements.prototype;
  Statements.prototype.insert = function (this: Statements, row, replace) {
    const fault = replace ? undefined : faults.shift();
    if (fault === "corrupt") throw corrupt();
    if (fault === "io") this.failNext = 1; // SQLITE_IOERR_WRITE through the seam
    insert.call(this, row, replace);
  };
  return { [Symbol.dispose]: () => void (Statements.prototype.insert = insert) };
}

for (const [what, second] of [["an I/O error", "io"], ["corruption again", "corrupt"]] as const) {
  Deno.test(`append() on a corrupt database whose fresh one fails with ${what} holds the row for the timer`, async () => {
    await using dir = await tempDir("outbox-append-replace");
    const { log, lines } = captureLog();
    using outbox = openOutbox({ stateDir: dir.path, log, now: () => AT, commitInterval: 5 });
    for (let i = 0; i < 3; i++) outbox.append(AT, message);
    outbox.commit();
    let stored: { seq: number; mid: string };
    {
      using _faults = failInserts("corrupt", second);
      stored = outbox.append(AT, message); // never throws for a storage fault
    }
    assert.ok(stored.seq > 10_000, `seq ${stored.seq} is above the reserve`);
    assert.equal(outbox.stats().depth, 4, "the held row counts as queued");
    assert.ok(outbox.stats().nextSeq > stored.seq);
    await waitFor(() => outbox.peek(0, 100).some((m) => m.seq === stored.seq), {
      what: "the commit timer to write the held row",
    });
    const rows = outbox.peek(0, 100);
    assert.deepEqual(rows.map((m) => m.seq), [1, 2, 3, stored.seq], JSON.stringify(lines));
    const last = rows[3];
    assert.equal(last.mid, stored.mid);
    assert.deepEqual(message(last.seq, last.mid), { body: last.body, props: last.props });
    assert.equal(outbox.stats().dropped, 0);
    assert.equal(outbox.append(AT, message).seq, stored.seq + 1);
    outbox.commit();
    assertCountersMatchRows(dir.path);
  });
}

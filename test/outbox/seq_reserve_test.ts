import assert from "node:assert/strict";
import { join } from "node:path";
import { readSeqReserve, writeSeqReserve } from "../../lib/outbox/seq_reserve.ts";
import { tempDir } from "../_helpers.ts";

Deno.test("readSeqReserve() is 0 without a file and reads what writeSeqReserve() wrote", async () => {
  await using dir = await tempDir("seq-reserve");
  assert.deepEqual(readSeqReserve(dir.path), { ceiling: 0 });
  writeSeqReserve(dir.path, 10_001);
  assert.deepEqual(readSeqReserve(dir.path), { ceiling: 10_001 });
  writeSeqReserve(dir.path, 20_001);
  assert.deepEqual(readSeqReserve(dir.path), { ceiling: 20_001 });
  assert.deepEqual(
    [...Deno.readDirSync(dir.path)].map((e) => e.name),
    ["seq.reserve"],
    "no temp left",
  );
});

Deno.test("readSeqReserve() reports a file that holds no number", async () => {
  await using dir = await tempDir("seq-reserve");
  await Deno.writeTextFile(join(dir.path, "seq.reserve"), "12abc\n");
  const r = readSeqReserve(dir.path);
  assert.equal(r.ceiling, 0);
  assert.match(r.problem!, /does not hold a sequence number/);
});

Deno.test("writeSeqReserve() rejects a negative or unsafe ceiling (a bug)", async () => {
  await using dir = await tempDir("seq-reserve");
  assert.throws(() => writeSeqReserve(dir.path, -1), RangeError);
  assert.throws(() => writeSeqReserve(dir.path, 2 ** 60), RangeError);
});

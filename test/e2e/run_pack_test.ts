/**
 * Cost-aware packing end to end: `telemetry.batch.maxBytes: 4096` packs
 * consecutive ticks into messages that fill IoT Hub's 4 KB metering unit.
 */
import assert from "node:assert/strict";
import { encodePropertyBag } from "../../lib/iothub/properties.ts";
import { utf8Length } from "../../lib/utf8.ts";
import { readJsonLines, spawnLeaf, tempDir, waitFor } from "../_helpers.ts";
import { freePort, RestartableGateway, writeRunConfig } from "./_run_setup.ts";

interface Tick {
  seq: number;
  ts: string;
  readings: unknown[];
}
interface Packed {
  properties: Record<string, string>;
  body: Tick[];
}

/** Topic + body bytes of a delivered message, as leaf encoded it. */
function wireBytes(m: Packed): number {
  const p = m.properties;
  const bag = encodePropertyBag({
    messageId: p["$.mid"],
    contentType: p["$.ct"],
    contentEncoding: p["$.ce"],
    creationTime: p["$.ctime"],
  });
  return utf8Length(`devices/dev-1/messages/events/${bag}`) + utf8Length(JSON.stringify(m.body));
}

Deno.test("leaf run packs 1000 ticks into 4 KB messages, every seq present and each message at least 75 % full", async () => {
  await using dir = await tempDir("run-pack");
  const port = freePort();
  const out = `${dir.path}/out.jsonl`;
  const config = await writeRunConfig(dir.path, port);
  await Deno.writeTextFile(
    config,
    (await Deno.readTextFile(config))
      .replace(
        "  interval: 25ms\n",
        "  interval: 10ms\n  batch:\n    maxBytes: 4096\n    maxDelay: 3s\n",
      ),
  );
  await using gw = new RestartableGateway(port, out);
  await gw.start();
  await using agent = spawnLeaf(["run", "--config", config]);
  const ticks = async () => (await readJsonLines<Packed>(out)).flatMap((m) => m.body);
  await waitFor(async () => (await ticks()).length >= 1000, {
    timeoutMs: 40_000,
    what: "1000 ticks",
  });
  assert.equal(await agent.stop("SIGTERM"), 0, agent.stderr());

  const messages = await readJsonLines<Packed>(out);
  const seqs = new Set<number>();
  for (const m of messages) {
    assert.ok(Array.isArray(m.body), "a packed body is a JSON array of ticks");
    for (const t of m.body) {
      assert.equal(typeof t.ts, "string");
      seqs.add(t.seq);
    }
  }
  const max = Math.max(...seqs);
  assert.ok(max >= 1000);
  for (let s = 1; s <= max; s++) assert.ok(seqs.has(s), `seq ${s} missing`);
  const sizes = messages.map(wireBytes);
  assert.ok(Math.max(...sizes) <= 4096, `largest message ${Math.max(...sizes)} bytes`);
  const underfilled = sizes.slice(0, -1).filter((b) => b < 0.75 * 4096);
  assert.deepEqual(underfilled, [], "every message but the last is at least 75 % full");
  assert.ok(messages.length < max / 5, `${messages.length} messages for ${max} ticks`);
});

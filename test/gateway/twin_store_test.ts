import assert from "node:assert/strict";
import { mergePatch, TwinStore } from "../../lib/gateway/twin_store.ts";
import { tempDir } from "../_helpers.ts";

Deno.test("TwinStore.patchReported() merges, deletes with null and bumps the version", async () => {
  const twins = await TwinStore.open();
  assert.deepEqual(twins.deviceView("d"), { desired: { $version: 1 }, reported: { $version: 1 } });
  assert.deepEqual(twins.patchReported("d", { fw: "1.0", net: { ip: "10.0.0.2", ssid: "x" } }), {
    ok: true,
    version: 2,
  });
  assert.deepEqual(twins.patchReported("d", { net: { ssid: null }, $version: 99 }), {
    ok: true,
    version: 3,
  });
  assert.deepEqual(twins.deviceView("d").reported, {
    fw: "1.0",
    net: { ip: "10.0.0.2" },
    $version: 3,
  });
});

Deno.test("TwinStore refuses a section over 32 KB and a patch that is not an object", async () => {
  const twins = await TwinStore.open();
  const result = twins.patchReported("d", { blob: "x".repeat(33 * 1024) });
  assert.equal(result.ok, false);
  assert.equal(!result.ok && result.status, 400);
  assert.equal(twins.deviceView("d").reported.$version, 1);
  assert.equal(twins.patchDesired("d", [1, 2]).ok, false);
});

Deno.test("TwinStore keeps twins in the state folder across restarts", async () => {
  await using dir = await tempDir("twins");
  const first = await TwinStore.open(dir.path);
  first.patchDesired("d", { interval: 5 });
  first.patchReported("d/m", { up: true });
  const second = await TwinStore.open(dir.path);
  assert.deepEqual(second.deviceView("d").desired, { interval: 5, $version: 2 });
  assert.deepEqual(second.serviceView("d/m").properties.reported, { up: true, $version: 2 });
  assert.equal(second.serviceView("d/m").moduleId, "m");
});

Deno.test("mergePatch() replaces non-objects and creates nested objects", () => {
  assert.deepEqual(mergePatch({ a: 1, b: [1] }, { a: { x: null, y: 2 }, b: [2] }), {
    a: { y: 2 },
    b: [2],
  });
});

/**
 * The clock step: NTP state from `timedatectl` (a stand-in script here), a
 * warning when not synchronised, and never a failure when the tool is
 * missing or cannot reach systemd.
 */
import assert from "node:assert/strict";
import { ntpState } from "../../lib/check/ntp.ts";
import { clockStep } from "../../lib/check/steps.ts";
import { tempDir } from "../_helpers.ts";

async function fakeTimedatectl(dir: string, script: string): Promise<string> {
  const path = `${dir}/timedatectl`;
  await Deno.writeTextFile(path, `#!/bin/sh\n${script}\n`);
  await Deno.chmod(path, 0o755);
  return path;
}

const ctx = () => ({ timeoutMs: 1000, now: () => new Date(), cleanups: [] });

Deno.test("ntpState() reads yes and no from timedatectl show -p NTPSynchronized --value", async () => {
  await using dir = await tempDir("ntp");
  const yes = await fakeTimedatectl(
    dir.path,
    '[ "$*" = "show -p NTPSynchronized --value" ] && echo yes',
  );
  assert.deepEqual(await ntpState(yes), { known: true, synchronized: true });
  const no = await fakeTimedatectl(dir.path, "echo no");
  assert.deepEqual(await ntpState(no), { known: true, synchronized: false });
});

Deno.test("ntpState() is unknown, not an error, without timedatectl or systemd", async () => {
  await using dir = await tempDir("ntp-missing");
  const missing = await ntpState(`${dir.path}/nope`);
  assert.deepEqual(missing, { known: false, reason: "timedatectl is not installed" });
  const noBus = await fakeTimedatectl(
    dir.path,
    'echo "Failed to connect to bus: Host is down" >&2; exit 1',
  );
  assert.deepEqual(await ntpState(noBus), {
    known: false,
    reason: "timedatectl: Failed to connect to bus: Host is down",
  });
});

Deno.test("clock step warns when NTP is not synchronised and passes when unknown", async () => {
  const unsynced = await clockStep(() => Promise.resolve({ known: true, synchronized: false })).run(
    ctx(),
  );
  assert.equal(unsynced.status, "warn");
  assert.match(unsynced.fix ?? "", /timedatectl set-ntp true/);
  const unknown = await clockStep(() => Promise.resolve({ known: false, reason: "x" })).run(ctx());
  assert.equal(unknown.status, "ok");
  assert.match(unknown.finding, /NTP state unknown \(x\)/);
});

Deno.test("clock step fails with exit 3 on a clock before this release", async () => {
  const outcome = await clockStep(() => Promise.reject(new Error("not called"))).run({
    ...ctx(),
    now: () => new Date("1970-01-01T00:00:42Z"),
  });
  assert.equal(outcome.status, "fail");
  assert.equal(outcome.exitCode, 3);
  assert.match(outcome.finding, /before this leaf release/);
});

/**
 * systemd/leaf.service and friends, checked by systemd's own tools when they
 * are installed. Where systemd-analyze or systemd-sysusers is missing those
 * tests are IGNORED, which is not a pass: run them on a machine with systemd.
 */
import assert from "node:assert/strict";
import { ROOT, tempDir } from "../_helpers.ts";

const UNIT = `${ROOT}systemd/leaf.service`;
const unitText = await Deno.readTextFile(UNIT);

function which(name: string): string | undefined {
  for (const dir of (Deno.env.get("PATH") ?? "/usr/bin:/bin").split(":")) {
    try {
      if (Deno.statSync(`${dir}/${name}`).isFile) return `${dir}/${name}`;
    } catch { /* not here */ }
  }
  return undefined;
}

const analyze = which("systemd-analyze");
const sysusers = which("systemd-sysusers");

async function exec(cmd: string, args: string[]) {
  const out = await new Deno.Command(cmd, { args, stdin: "null" }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** The unit with ExecStart pointing at an executable that exists here. */
async function unitWithRealBinary(dir: string): Promise<string> {
  const path = `${dir}/leaf.service`;
  await Deno.writeTextFile(
    path,
    unitText.replace(/^ExecStart=\/usr\/local\/bin\/leaf /m, `ExecStart=${Deno.execPath()} `),
  );
  return path;
}

/** Active (uncommented) `Key=value` lines of the unit. */
function directives(): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const line of unitText.split("\n")) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
    if (m) map.set(m[1], [...(map.get(m[1]) ?? []), m[2]]);
  }
  return map;
}

const REQUIRED: [string, string][] = [
  ["Type", "notify"],
  ["NotifyAccess", "main"],
  ["ExecStart", "/usr/local/bin/leaf run --config /etc/leaf/leaf.yaml"],
  ["WatchdogSec", "60s"],
  ["Restart", "on-failure"],
  ["User", "leaf"],
  ["StateDirectory", "leaf"],
  ["ConfigurationDirectory", "leaf"],
  ["LoadCredential", "connection-string:/etc/leaf/connection-string"],
  ["ProtectSystem", "strict"],
  ["NoNewPrivileges", "yes"],
  ["CapabilityBoundingSet", ""],
  ["RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"],
  ["SystemCallFilter", "@system-service"],
  ["UMask", "0077"],
  ["Wants", "network-online.target time-sync.target"],
  ["After", "network-online.target time-sync.target"],
];
for (const [key, value] of REQUIRED) {
  Deno.test(`leaf.service sets ${key}=${value}`, () => {
    assert.ok(directives().get(key)?.includes(value), `${key}=${value} missing`);
  });
}

Deno.test("leaf.service sets nothing that breaks V8 or the system sensor", () => {
  const d = directives();
  assert.equal(d.get("MemoryDenyWriteExecute"), undefined, "V8's JIT needs W+X memory");
  assert.equal(d.get("ProcSubset"), undefined, "ProcSubset=pid hides /proc/meminfo and loadavg");
  assert.equal(d.get("LimitAS"), undefined, "V8 reserves much address space");
  for (const key of ["StartLimitIntervalSec", "StartLimitBurst", "RestartSec"]) {
    assert.ok(d.has(key), `${key} is set`);
  }
});

Deno.test("leaf.service's start limit can trip (StartLimitIntervalSec > StartLimitBurst × RestartSec)", () => {
  const d = directives();
  const seconds = (v: string) => {
    const m = /^(\d+)(s|min)?$/.exec(v)!;
    return Number(m[1]) * (m[2] === "min" ? 60 : 1);
  };
  const interval = seconds(d.get("StartLimitIntervalSec")![0]);
  const burst = Number(d.get("StartLimitBurst")![0]);
  const restart = seconds(d.get("RestartSec")![0]);
  assert.ok(interval > burst * restart, `${interval} s <= ${burst} × ${restart} s`);
  assert.ok(
    restart + seconds(d.get("WatchdogSec")![0]) > interval / burst,
    "watchdog restarts never trip it",
  );
});

Deno.test({
  name: "systemd-analyze verify accepts leaf.service (ignored without systemd-analyze: not a pass)",
  ignore: analyze === undefined,
  async fn() {
    await using dir = await tempDir("unit");
    const unit = await unitWithRealBinary(dir.path);
    const r = await exec(analyze!, ["verify", unit]);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /leaf\.service/, r.stderr);
  },
});

Deno.test({
  name:
    "systemd-analyze security --offline=true rates leaf.service at most 2.5 (ignored without systemd-analyze: not a pass)",
  ignore: analyze === undefined,
  async fn() {
    await using dir = await tempDir("unit");
    const unit = await unitWithRealBinary(dir.path);
    const r = await exec(analyze!, ["security", "--offline=true", "--no-pager", unit]);
    const m = /Overall exposure level for leaf\.service: (\d+\.\d+)/.exec(r.stdout);
    assert.ok(m, `no score in: ${r.stdout}${r.stderr}`);
    const score = Number(m[1]);
    assert.ok(score <= 2.5, `exposure ${score} > 2.5:\n${r.stdout}`);
    const header = /^# `systemd-analyze security .*` rates it (\d+\.\d+)/m.exec(unitText);
    assert.equal(Number(header?.[1]), score, "the score in the unit's header comment is current");
  },
});

Deno.test({
  name:
    "systemd-sysusers accepts leaf.sysusers and creates the leaf user (ignored without systemd-sysusers: not a pass)",
  ignore: sysusers === undefined,
  async fn() {
    await using dir = await tempDir("sysusers");
    await Deno.mkdir(`${dir.path}/etc`);
    const r = await exec(sysusers!, [`--root=${dir.path}`, `${ROOT}systemd/leaf.sysusers`]);
    assert.equal(r.code, 0, r.stderr);
    const passwd = await Deno.readTextFile(`${dir.path}/etc/passwd`);
    assert.match(passwd, /^leaf:x:\d+:\d+:leaf telemetry agent:\/:\/usr\/sbin\/nologin$/m);
    assert.match(await Deno.readTextFile(`${dir.path}/etc/group`), /^leaf:x:\d+:$/m);
  },
});

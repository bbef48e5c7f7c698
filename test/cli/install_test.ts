/**
 * `leaf install` / `leaf uninstall` through the real entry point, always with
 * `--root` (a temp tree) or `--dry-run`: these tests never touch the machine.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { ROOT, runLeaf, tempDir } from "../_helpers.ts";
import { HUB, KEY_A } from "../gateway/_setup.ts";
import { loadConfig } from "../../lib/config/load.ts";
import { readConnectionString } from "../../lib/config/target.ts";
import { elfArch } from "../../lib/install/elf.ts";

const CS = `HostName=${HUB};DeviceId=pi-07;SharedAccessKey=${KEY_A};GatewayHostName=gw.local`;
const CA_NAME = "azure-iot-test-only.root.ca.cert.pem";

/** A file with a 64-bit little-endian ELF header for `arch`, then `payload`. */
function fakeElf(arch: "x86_64" | "aarch64", payload: string): Uint8Array {
  const body = new TextEncoder().encode(payload);
  const file = new Uint8Array(64 + body.length);
  file.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
  const machine = arch === "x86_64" ? 62 : 183;
  file[18] = machine & 0xff;
  file[19] = machine >> 8;
  file.set(body, 64);
  return file;
}

const HOST_ARCH = Deno.build.arch as "x86_64" | "aarch64";
const OTHER_ARCH = HOST_ARCH === "x86_64" ? "aarch64" : "x86_64";

interface Fixture extends AsyncDisposable {
  root: string;
  binary: string;
  ca: string;
  src: string;
}

async function fixture(): Promise<Fixture> {
  const tmp = await tempDir("install");
  const src = join(tmp.path, "src");
  const root = join(tmp.path, "root");
  await Deno.mkdir(src);
  await Deno.mkdir(root);
  const binary = join(src, "leaf-x");
  await Deno.writeFile(binary, fakeElf(HOST_ARCH, "leaf v1"), { mode: 0o755 });
  const ca = join(src, CA_NAME);
  await Deno.writeTextFile(ca, "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
  return { root, binary, ca, src, [Symbol.asyncDispose]: tmp[Symbol.asyncDispose] };
}

/** Every file and symlink under `root`, with its mode, sorted. */
async function tree(root: string, dir = ""): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for await (const entry of Deno.readDir(join(root, dir))) {
    const rel = `${dir}/${entry.name}`;
    if (entry.isDirectory) Object.assign(out, await tree(root, rel));
    else {out[rel] = ((await Deno.lstat(join(root, rel))).mode! & 0o7777).toString(8).padStart(
        4,
        "0",
      );}
  }
  return Object.fromEntries(Object.entries(out).sort());
}

const EXPECTED = {
  "/etc/leaf/azure-iot-test-only.root.ca.cert.pem": "0644",
  "/etc/leaf/connection-string": "0600",
  "/etc/leaf/leaf.yaml": "0644",
  "/etc/systemd/system/leaf.service": "0644",
  "/etc/sysusers.d/leaf.conf": "0644",
  "/usr/local/bin/leaf": "0755",
};

function install(f: Fixture, extra: string[] = [], env?: Record<string, string>) {
  return runLeaf([
    "install",
    "--root",
    f.root,
    "--binary",
    f.binary,
    "--ca",
    f.ca,
    ...extra,
  ], env ? { env } : {});
}

function assertNoSecret(...texts: string[]) {
  for (const t of texts) assert.ok(!t.includes(KEY_A), `the key leaked: ${t}`);
}

Deno.test("leaf install --root lays down exactly the documented files with their modes", async () => {
  await using f = await fixture();
  const r = await install(f, ["--connection-string", CS]);
  assert.equal(r.code, 0, r.stderr);
  assertNoSecret(r.stdout, r.stderr);
  assert.deepEqual(await tree(f.root), EXPECTED);
  assert.equal(
    await Deno.readTextFile(join(f.root, "etc/systemd/system/leaf.service")),
    await Deno.readTextFile(`${ROOT}systemd/leaf.service`),
  );
  assert.equal(
    await Deno.readTextFile(join(f.root, "etc/sysusers.d/leaf.conf")),
    await Deno.readTextFile(`${ROOT}systemd/leaf.sysusers`),
  );
  assert.deepEqual(
    await Deno.readFile(join(f.root, "usr/local/bin/leaf")),
    fakeElf(HOST_ARCH, "leaf v1"),
  );
  assert.equal(await Deno.readTextFile(join(f.root, "etc/leaf/connection-string")), `${CS}\n`);
  assert.match(r.stdout, /created +\/etc\/leaf\/connection-string \(0600\)/);
  assert.match(r.stdout, /to do +systemd-sysusers \/etc\/sysusers.d\/leaf.conf/);
  assert.match(r.stdout, /to do +systemctl daemon-reload/);
  assert.match(r.stdout, /leaf install: changed \d+ paths/);
});

Deno.test("leaf install's config skeleton is valid, pins the CA and reads the credential", async () => {
  await using f = await fixture();
  assert.equal((await install(f, ["--connection-string", CS])).code, 0);
  const file = join(f.root, "etc/leaf/leaf.yaml");
  const text = await Deno.readTextFile(file);
  assert.match(text, new RegExp(`^  caCert: /etc/leaf/${CA_NAME.replaceAll(".", "\\.")}$`, "m"));
  const { config } = await loadConfig({ config: file }, () => undefined);
  assert.equal(config.connectionStringFile, "${CREDENTIALS_DIRECTORY}/connection-string");
  assert.equal(config.stateDir, "/var/lib/leaf");
  // As systemd runs it: LoadCredential= puts the file in $CREDENTIALS_DIRECTORY.
  const env = (n: string) => (n === "CREDENTIALS_DIRECTORY" ? join(f.root, "etc/leaf") : undefined);
  const cs = await readConnectionString(config, env);
  assert.equal(cs.deviceId, "pi-07");
});

Deno.test("leaf install twice changes nothing and says so", async () => {
  await using f = await fixture();
  assert.equal((await install(f, ["--connection-string", CS])).code, 0);
  const stamp = async () => {
    const out: Record<string, string> = {};
    for (const p of Object.keys(EXPECTED)) {
      const s = await Deno.lstat(join(f.root, p));
      out[p] = `${s.ino}:${s.mtime?.getTime()}:${s.mode}`;
    }
    return out;
  };
  const before = await stamp();
  const again = await install(f, ["--connection-string", CS]);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /nothing to change, everything is already installed/);
  assert.doesNotMatch(again.stdout, /created|updated|to do/);
  assert.deepEqual(await stamp(), before);
  assert.deepEqual(await tree(f.root), EXPECTED);
});

Deno.test("leaf install takes the connection string from IOTHUB_DEVICE_CONNECTION_STRING", async () => {
  await using f = await fixture();
  const r = await install(f, [], { IOTHUB_DEVICE_CONNECTION_STRING: CS });
  assert.equal(r.code, 0, r.stderr);
  assertNoSecret(r.stdout, r.stderr);
  assert.equal(await Deno.readTextFile(join(f.root, "etc/leaf/connection-string")), `${CS}\n`);
});

Deno.test("leaf install without a connection string says what is missing", async () => {
  await using f = await fixture();
  const r = await install(f);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /missing +\/etc\/leaf\/connection-string: pass --connection-string/);
  const { "/etc/leaf/connection-string": _, ...rest } = EXPECTED;
  assert.deepEqual(await tree(f.root), rest);
});

Deno.test("leaf install never overwrites an existing config", async () => {
  await using f = await fixture();
  await Deno.mkdir(join(f.root, "etc/leaf"), { recursive: true });
  await Deno.writeTextFile(join(f.root, "etc/leaf/leaf.yaml"), "telemetry:\n  interval: 1m\n");
  const r = await install(f, ["--connection-string", CS]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(
    r.stdout,
    /kept +\/etc\/leaf\/leaf.yaml \(0644\): exists; leaf install never overwrites it/,
  );
  assert.equal(
    await Deno.readTextFile(join(f.root, "etc/leaf/leaf.yaml")),
    "telemetry:\n  interval: 1m\n",
  );
});

Deno.test("leaf install --config installs a prepared config, after validating it", async () => {
  await using f = await fixture();
  const bad = join(f.src, "bad.yaml");
  await Deno.writeTextFile(bad, "telemetry:\n  intervall: 10s\n");
  const r = await install(f, ["--config", bad]);
  assert.equal(r.code, 2, r.stdout);
  assert.match(r.stderr, /intervall/);
  assert.deepEqual(await tree(f.root), {}, "nothing installed from an invalid config");
  const good = join(f.src, "good.yaml");
  await Deno.writeTextFile(good, "telemetry:\n  interval: 30s\n");
  assert.equal((await install(f, ["--config", good])).code, 0);
  assert.equal(
    await Deno.readTextFile(join(f.root, "etc/leaf/leaf.yaml")),
    "telemetry:\n  interval: 30s\n",
  );
});

Deno.test("leaf install upgrades the binary, keeps the previous one as leaf.prev, and rolls back from it", async () => {
  await using f = await fixture();
  assert.equal((await install(f)).code, 0);
  await Deno.writeFile(f.binary, fakeElf(HOST_ARCH, "leaf v2"));
  const r = await install(f);
  assert.equal(r.code, 0, r.stderr);
  assert.match(
    r.stdout,
    /updated +\/usr\/local\/bin\/leaf \(0755\): previous kept as \/usr\/local\/bin\/leaf.prev/,
  );
  assert.deepEqual(
    await Deno.readFile(join(f.root, "usr/local/bin/leaf")),
    fakeElf(HOST_ARCH, "leaf v2"),
  );
  assert.deepEqual(
    await Deno.readFile(join(f.root, "usr/local/bin/leaf.prev")),
    fakeElf(HOST_ARCH, "leaf v1"),
  );
  const again = await install(f);
  assert.match(again.stdout, /nothing to change/);
  // Rollback: install leaf.prev itself; the current one becomes leaf.prev.
  const prev = join(f.root, "usr/local/bin/leaf.prev");
  const back = await runLeaf(["install", "--root", f.root, "--binary", prev]);
  assert.equal(back.code, 0, back.stderr);
  assert.deepEqual(
    await Deno.readFile(join(f.root, "usr/local/bin/leaf")),
    fakeElf(HOST_ARCH, "leaf v1"),
  );
  assert.deepEqual(await Deno.readFile(prev), fakeElf(HOST_ARCH, "leaf v2"));
});

Deno.test("leaf install puts a changed mode back", async () => {
  await using f = await fixture();
  assert.equal((await install(f, ["--connection-string", CS])).code, 0);
  await Deno.chmod(join(f.root, "etc/leaf/connection-string"), 0o644);
  const r = await install(f, ["--connection-string", CS]);
  assert.match(r.stdout, /updated +\/etc\/leaf\/connection-string \(0600\): mode corrected/);
  assert.deepEqual(await tree(f.root), EXPECTED);
});

Deno.test("leaf install --dry-run prints every action and changes nothing", async () => {
  await using f = await fixture();
  const r = await install(f, ["--dry-run", "--connection-string", CS]);
  assert.equal(r.code, 0, r.stderr);
  assertNoSecret(r.stdout, r.stderr);
  for (const path of Object.keys(EXPECTED)) {
    assert.match(r.stdout, new RegExp(`would create +${path.replaceAll(".", "\\.")} `));
  }
  assert.match(r.stdout, /would run +systemd-sysusers/);
  assert.match(r.stdout, /would run +systemctl daemon-reload/);
  assert.deepEqual(await tree(f.root), {});
});

Deno.test("leaf install refuses a binary for another CPU, except into an image (--root)", async () => {
  await using f = await fixture();
  await Deno.writeFile(f.binary, fakeElf(OTHER_ARCH, "leaf"));
  const live = await runLeaf(["install", "--dry-run", "--binary", f.binary]);
  assert.equal(live.code, 2);
  assert.match(
    live.stderr,
    new RegExp(`built for ${OTHER_ARCH}, but this machine is ${HOST_ARCH}`),
  );
  const image = await install(f);
  assert.equal(image.code, 0, image.stderr);
  assert.match(image.stdout, /fine for an image/);
});

Deno.test("leaf install rejects a file that is not an executable, and a bad connection string", async () => {
  await using f = await fixture();
  const notElf = await runLeaf(["install", "--root", f.root, "--binary", f.ca]);
  assert.equal(notElf.code, 2);
  assert.match(notElf.stderr, /is not a 64-bit Linux executable/);
  const bad = await install(f, ["--connection-string", `HostName=${HUB};SharedAccessKey=${KEY_A}`]);
  assert.equal(bad.code, 2);
  assertNoSecret(bad.stdout, bad.stderr);
  assert.deepEqual(await tree(f.root), {});
});

Deno.test("leaf install from source needs --binary", async () => {
  await using f = await fixture();
  const r = await runLeaf(["install", "--root", f.root]);
  assert.equal(r.code, 2);
  assert.match(
    r.stderr,
    /needs --binary FILE when leaf runs from source: build it with `deno task compile`/,
  );
});

Deno.test("leaf uninstall removes what install laid down, keeps /etc/leaf unless --purge", async () => {
  await using f = await fixture();
  assert.equal((await install(f, ["--connection-string", CS])).code, 0);
  await Deno.writeFile(f.binary, fakeElf(HOST_ARCH, "leaf v2"));
  assert.equal((await install(f)).code, 0); // leaf.prev exists now
  const wants = join(f.root, "etc/systemd/system/multi-user.target.wants");
  await Deno.mkdir(wants);
  await Deno.symlink("/etc/systemd/system/leaf.service", join(wants, "leaf.service"));

  const dry = await runLeaf(["uninstall", "--root", f.root, "--dry-run"]);
  assert.match(dry.stdout, /would remove +\/usr\/local\/bin\/leaf.prev/);
  assert.equal(Object.keys(await tree(f.root)).length, 8);

  const r = await runLeaf(["uninstall", "--root", f.root]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /leaf uninstall: removed 5 paths/);
  assert.match(r.stdout, /Kept: \/etc\/leaf \(config, CA, credential; --purge removes it\)/);
  const {
    "/etc/leaf/azure-iot-test-only.root.ca.cert.pem": a,
    "/etc/leaf/connection-string": b,
    "/etc/leaf/leaf.yaml": c,
  } = EXPECTED;
  assert.deepEqual(await tree(f.root), {
    "/etc/leaf/azure-iot-test-only.root.ca.cert.pem": a,
    "/etc/leaf/connection-string": b,
    "/etc/leaf/leaf.yaml": c,
  });

  const again = await runLeaf(["uninstall", "--root", f.root]);
  assert.match(again.stdout, /leaf uninstall: nothing to remove/);
  const purge = await runLeaf(["uninstall", "--root", f.root, "--purge"]);
  assert.equal(purge.code, 0, purge.stderr);
  assert.deepEqual(await tree(f.root), {});
});

Deno.test("elfArch() reads the machine of 64-bit little-endian ELF files only", () => {
  assert.equal(elfArch(fakeElf("x86_64", "")), "x86_64");
  assert.equal(elfArch(fakeElf("aarch64", "")), "aarch64");
  const arm32 = fakeElf("x86_64", "");
  arm32[4] = 1;
  assert.equal(elfArch(arm32), undefined);
  assert.equal(elfArch(new TextEncoder().encode("#!/bin/sh\nexec deno run main.ts\n")), undefined);
});

import assert from "node:assert/strict";
import { join } from "node:path";
import { EXIT, LeafError } from "../../lib/errors.ts";
import {
  detectDistro,
  parseOsRelease,
  readDistro,
  storeLayout,
  type TrustFamily,
} from "../../lib/trust/os_release.ts";
import { encodePem } from "../../lib/trust/pem.ts";
import {
  type Anchor,
  applyPlan,
  describeStep,
  inspectStore,
  parseUpdateSummary,
  planInstall,
  planRemove,
  type StoreState,
} from "../../lib/trust/store.ts";
import { tempDir } from "../_helpers.ts";

// Any DER works for planning; the store compares bytes, it does not parse them.
const ANCHOR: Anchor = {
  der: new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01]),
  pem: encodePem("CERTIFICATE", new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01])),
  description: '"CN=Test Root" (SHA-256 AA:BB)',
  source: "/certs/root.pem",
};

function state(target: string, overrides: Partial<StoreState> = {}): StoreState {
  return {
    target,
    existing: "absent",
    anchorsDirExists: true,
    bundleHasAnchor: false,
    ...overrides,
  };
}

Deno.test("parseOsRelease() reads quoted, single-quoted and escaped values and skips comments", () => {
  const vars = parseOsRelease(
    '# comment\nNAME="Raspbian GNU/Linux"\nID=raspbian\r\nID_LIKE=debian\n' +
      'VERSION=\'12 (bookworm)\'\nPRETTY_NAME="say \\"hi\\" \\$HOME"\n\nnot a line\n',
  );
  assert.deepEqual(vars, {
    NAME: "Raspbian GNU/Linux",
    ID: "raspbian",
    ID_LIKE: "debian",
    VERSION: "12 (bookworm)",
    PRETTY_NAME: 'say "hi" $HOME',
  });
});

Deno.test.each(
  [
    ["ID=debian", "debian"],
    ["ID=ubuntu\nID_LIKE=debian", "debian"],
    ["ID=raspbian\nID_LIKE=debian", "debian"],
    ['ID=linuxmint\nID_LIKE="ubuntu debian"', "debian"],
    ["ID=alpine", "alpine"],
    ["ID=postmarketos\nID_LIKE=alpine", "alpine"],
    ["ID=fedora", "fedora"],
    ['ID="rhel"\nID_LIKE="fedora"', "fedora"],
    ['ID="centos"\nID_LIKE="rhel fedora"', "fedora"],
    ['ID="rocky"\nID_LIKE="rhel centos fedora"', "fedora"],
    ['ID="almalinux"\nID_LIKE="rhel centos fedora"', "fedora"],
    ['ID="opensuse-leap"\nID_LIKE="suse opensuse"', "suse"],
    ['ID="opensuse-tumbleweed"', "suse"],
    ['ID="sles"', "suse"],
    ["ID=arch", undefined],
    ["", undefined],
  ] as const,
)("detectDistro(%j) is family %j", (text, family) => {
  assert.equal(detectDistro(parseOsRelease(text)).family, family);
});

Deno.test("detectDistro() names the distribution from PRETTY_NAME, else NAME, else ID", () => {
  assert.deepEqual(detectDistro(parseOsRelease('ID=fedora\nPRETTY_NAME="Fedora Linux 40"')), {
    id: "fedora",
    name: "Fedora Linux 40",
    family: "fedora",
  });
  assert.deepEqual(detectDistro({}), { id: "linux", name: "linux" });
});

Deno.test("readDistro() reads etc/os-release, else usr/lib/os-release, under a root", async () => {
  await using dir = await tempDir("store");
  assert.equal(await readDistro(dir.path), undefined);
  await Deno.mkdir(join(dir.path, "usr/lib"), { recursive: true });
  await Deno.writeTextFile(join(dir.path, "usr/lib/os-release"), "ID=alpine\n");
  assert.equal((await readDistro(dir.path))?.family, "alpine");
  await Deno.mkdir(join(dir.path, "etc"));
  await Deno.writeTextFile(join(dir.path, "etc/os-release"), "ID=fedora\n");
  assert.equal((await readDistro(dir.path))?.family, "fedora");
  await assert.rejects(readDistro("/", join(dir.path, "missing")), /Cannot read ".*missing"/);
});

const LOCAL = "/usr/local/share/ca-certificates";
const SSL = "/etc/ssl/certs/ca-certificates.crt";
const FEDORA = "/etc/pki/ca-trust/source/anchors";
const FEDORA_BUNDLE = "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem";
const SUSE_BUNDLE = "/var/lib/ca-certificates/ca-bundle.pem";

Deno.test.each(
  [
    ["debian", LOCAL, SSL, "update-ca-certificates", "update-ca-certificates --fresh"],
    ["alpine", LOCAL, SSL, "update-ca-certificates", "update-ca-certificates"],
    ["fedora", FEDORA, FEDORA_BUNDLE, "update-ca-trust extract", "update-ca-trust extract"],
    [
      "suse",
      "/etc/pki/trust/anchors",
      SUSE_BUNDLE,
      "update-ca-certificates",
      "update-ca-certificates",
    ],
  ] as [TrustFamily, string, string, string, string][],
)("storeLayout(%j) puts anchors in %j and rebuilds %j", (family, dir, bundle, update, after) => {
  const layout = storeLayout(family);
  assert.deepEqual(
    [layout.anchorsDir, layout.bundle, layout.update.join(" "), layout.updateAfterChange.join(" ")],
    [dir, bundle, update, after],
  );
  assert.equal(layout.runnable, true);
});

Deno.test("storeLayout() maps every Debian path under a root and passes them to the tool", () => {
  const layout = storeLayout("debian", "/tmp/tree/");
  const options = "--certsconf /tmp/tree/etc/ca-certificates.conf " +
    "--certsdir /tmp/tree/usr/share/ca-certificates " +
    "--localcertsdir /tmp/tree/usr/local/share/ca-certificates " +
    "--etccertsdir /tmp/tree/etc/ssl/certs --hooksdir /tmp/tree/etc/ca-certificates/update.d";
  assert.equal(layout.anchorsDir, "/tmp/tree/usr/local/share/ca-certificates");
  assert.equal(layout.bundle, "/tmp/tree/etc/ssl/certs/ca-certificates.crt");
  assert.equal(layout.update.join(" "), `update-ca-certificates ${options}`);
  assert.equal(layout.updateAfterChange.join(" "), `update-ca-certificates --fresh ${options}`);
  assert.equal(layout.runnable, true);
});

Deno.test("storeLayout() under a root cannot run update-ca-trust, Alpine's or SUSE's tool", () => {
  for (const family of ["fedora", "alpine", "suse"] as const) {
    const layout = storeLayout(family, "/img");
    assert.equal(layout.runnable, false, family);
    assert.ok(layout.anchorsDir.startsWith("/img/"), family);
  }
});

Deno.test.each(
  [
    ["fedora", FEDORA, "update-ca-trust extract"],
    ["suse", "/etc/pki/trust/anchors", "update-ca-certificates"],
    ["alpine", LOCAL, "update-ca-certificates"],
    ["debian", LOCAL, "update-ca-certificates"],
  ] as [TrustFamily, string, string][],
)("planInstall() on %j writes the anchor into %j and runs %j", (family, dir, tool) => {
  const layout = storeLayout(family);
  const plan = planInstall(layout, state(`${layout.anchorsDir}/gw.crt`), ANCHOR);
  assert.equal(plan.outcome, "install");
  assert.deepEqual(plan.steps.map(describeStep), [
    `write ${dir}/gw.crt (mode 0644): "CN=Test Root" (SHA-256 AA:BB) from "/certs/root.pem"`,
    tool,
  ]);
});

Deno.test("planInstall() creates a missing anchors folder first", () => {
  const layout = storeLayout("suse");
  const plan = planInstall(layout, state("/x", { anchorsDirExists: false }), ANCHOR);
  assert.deepEqual(plan.steps.map((s) => s.op), ["mkdir", "write", "run"]);
  assert.equal(describeStep(plan.steps[0]), "mkdir -p -m 0755 /etc/pki/trust/anchors");
});

Deno.test("planInstall() does nothing when the same anchor is in place and in the bundle", () => {
  const layout = storeLayout("debian");
  const plan = planInstall(
    layout,
    state("/t", { existing: "same", bundleHasAnchor: true }),
    ANCHOR,
  );
  assert.deepEqual(plan, { outcome: "already", target: "/t", steps: [] });
});

Deno.test("planInstall() only reruns the tool when the anchor is in place but not in the bundle", () => {
  const layout = storeLayout("debian");
  const plan = planInstall(layout, state("/t", { existing: "same" }), ANCHOR);
  assert.equal(plan.outcome, "refresh");
  assert.deepEqual(plan.steps, [{ op: "run", argv: ["update-ca-certificates"] }]);
});

Deno.test("planInstall() replaces different content and rebuilds Debian's links with --fresh", () => {
  const layout = storeLayout("debian");
  const plan = planInstall(layout, state("/t", { existing: "different" }), ANCHOR);
  assert.equal(plan.outcome, "replace");
  assert.deepEqual(plan.steps.map(describeStep).slice(1), ["update-ca-certificates --fresh"]);
});

Deno.test("planInstall() under a root Fedora tree writes the anchor and leaves the tool to the user", () => {
  const layout = storeLayout("fedora", "/img");
  const plan = planInstall(layout, state(`${layout.anchorsDir}/gw.crt`), ANCHOR);
  assert.deepEqual(plan.steps.map((s) => s.op), ["write", "defer"]);
  assert.match(describeStep(plan.steps[1]), /chroot \/img update-ca-trust extract/);
  const again = planInstall(layout, state("/t", { existing: "same" }), ANCHOR);
  assert.equal(again.outcome, "already", "the bundle cannot be checked there");
});

Deno.test("planRemove() deletes only the same anchor, then rebuilds", () => {
  const debian = storeLayout("debian");
  assert.deepEqual(planRemove(debian, state("/t"), ANCHOR), {
    outcome: "absent",
    target: "/t",
    steps: [],
  });
  const plan = planRemove(debian, state("/t", { existing: "same" }), ANCHOR);
  assert.deepEqual(plan.steps.map(describeStep), ["rm /t", "update-ca-certificates --fresh"]);
  const fedora = planRemove(storeLayout("fedora"), state("/t", { existing: "same" }), ANCHOR);
  assert.deepEqual(fedora.steps.map(describeStep), ["rm /t", "update-ca-trust extract"]);
});

Deno.test("planRemove() refuses a file that holds another certificate (exit 2)", () => {
  const other = state("/t", { existing: "different", existingDescription: '"CN=Other"' });
  let error: unknown;
  try {
    planRemove(storeLayout("debian"), other, ANCHOR);
  } catch (e) {
    error = e;
  }
  assert.ok(error instanceof LeafError);
  assert.equal(error.exitCode, EXIT.usage);
  assert.match(error.oneLine(), /^"\/t" holds "CN=Other", not "CN=Test Root".*: not removed: /);
});

Deno.test("parseUpdateSummary() reads update-ca-certificates' counts", () => {
  const out = "Updating certificates in /etc/ssl/certs...\n1 added, 0 removed; done.\n";
  assert.deepEqual(parseUpdateSummary(out), { added: 1, removed: 0 });
  assert.equal(parseUpdateSummary(""), undefined);
});

Deno.test("inspectStore() tells absent, same, different and not-a-file apart", async () => {
  await using dir = await tempDir("store");
  const layout = storeLayout("debian", dir.path);
  assert.equal((await inspectStore(layout, "gw", ANCHOR)).anchorsDirExists, false);
  await Deno.mkdir(layout.anchorsDir, { recursive: true });
  const target = join(layout.anchorsDir, "gw.crt");
  const seen = async () => (await inspectStore(layout, "gw", ANCHOR)).existing;
  assert.equal(await seen(), "absent");
  await Deno.writeTextFile(target, ANCHOR.pem.replaceAll("\n", "\r\n"));
  assert.equal(await seen(), "same", "line ends do not matter, the certificate does");
  await Deno.writeTextFile(target, ANCHOR.pem + ANCHOR.pem);
  assert.equal(await seen(), "different");
  await Deno.remove(target);
  await Deno.symlink("/dev/null", target);
  assert.equal(await seen(), "different");
});

Deno.test("applyPlan() turns a failing tool into one line with its last error (exit 2)", async () => {
  await using dir = await tempDir("store");
  const tool = join(dir.path, "fake-update");
  await Deno.writeTextFile(tool, "#!/bin/sh\necho 'working...'\necho 'E: disk full' >&2\nexit 3\n");
  await Deno.chmod(tool, 0o755);
  const plan = {
    outcome: "refresh" as const,
    target: "/t",
    steps: [{ op: "run" as const, argv: ["fake-update", "-x"] }],
  };
  const error = await applyPlan(plan, { which: () => tool }).catch((e) => e);
  assert.ok(error instanceof LeafError);
  assert.equal(error.exitCode, EXIT.usage);
  assert.equal(error.message, '"fake-update -x" failed (exit 3): E: disk full');
  const missing = await applyPlan(plan, { which: () => undefined }).catch((e) => e);
  assert.match(missing.oneLine(), /^"fake-update" not found: install the ca-certificates package/);
});

Deno.test("applyPlan() writes the anchor with mode 0644 and leaves no temp file", async () => {
  await using dir = await tempDir("store");
  const layout = storeLayout("fedora", dir.path);
  const target = join(layout.anchorsDir, "gw.crt");
  const plan = planInstall(layout, state(target, { anchorsDirExists: false }), ANCHOR);
  assert.deepEqual(await applyPlan(plan), [], "the deferred tool is not run");
  assert.equal(await Deno.readTextFile(target), ANCHOR.pem);
  assert.equal((await Deno.stat(target)).mode! & 0o777, 0o644);
  assert.deepEqual([...Deno.readDirSync(layout.anchorsDir)].map((e) => e.name), ["gw.crt"]);
});

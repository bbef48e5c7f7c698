// `leaf ca` through the real entry point, against the real Debian update-ca-certificates on a
// temporary tree (--root) seeded with real CA files, never on this machine's trust store.
import assert from "node:assert/strict";
import { join } from "node:path";
import { issueCertificate } from "../../lib/trust/issue_certificate.ts";
import { createDeviceCertificate, createEdgeTestChain } from "../../lib/trust/testchain.ts";
import { leafCommand, leafEnv, type LeafResult, runLeaf, tempDir } from "../_helpers.ts";

const TOOL = "/usr/sbin/update-ca-certificates";
const HAS_TOOL = (await Deno.readTextFile(TOOL).catch(() => "")).includes("--localcertsdir");
const withTool = { ignore: !HAS_TOOL };
const DEBIAN = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n';
const LOCAL = "usr/local/share/ca-certificates";
const CERTS = "etc/ssl/certs";

/** A Debian trust store under `root`, built by the real tool from four real CA files. */
async function seedTree(root: string): Promise<void> {
  for (const dir of [CERTS, "usr/share/ca-certificates/mozilla", LOCAL]) {
    await Deno.mkdir(join(root, dir), { recursive: true });
  }
  await Deno.writeTextFile(join(root, "etc/os-release"), DEBIAN);
  const names = [...Deno.readDirSync("/usr/share/ca-certificates/mozilla")]
    .map((e) => e.name).filter((n) => n.endsWith(".crt")).sort().slice(0, 4);
  for (const name of names) {
    const path = `usr/share/ca-certificates/mozilla/${name}`;
    await Deno.copyFile(`/${path}`, join(root, path));
  }
  const conf = join(root, "etc/ca-certificates.conf");
  await Deno.writeTextFile(conf, names.map((n) => `mozilla/${n}\n`).join(""));
  const args = ["--certsconf", conf, "--certsdir", join(root, "usr/share/ca-certificates")];
  args.push("--localcertsdir", join(root, LOCAL), "--etccertsdir", join(root, CERTS));
  args.push("--hooksdir", join(root, "etc/ca-certificates/update.d"));
  const out = await new Deno.Command(TOOL, { args, stdout: "null", stderr: "piped" }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
}

/** The bundle's bytes and every entry of etc/ssl/certs with its link target. */
async function snapshot(root: string) {
  const links = [...Deno.readDirSync(join(root, CERTS))].map((e) => e.name).sort().map((n) => {
    const path = join(root, CERTS, n);
    return Deno.lstatSync(path).isSymlink ? `${n} -> ${Deno.readLinkSync(path)}` : n;
  });
  return { bundle: await Deno.readFile(join(root, CERTS, "ca-certificates.crt")), links };
}

type Chain = Awaited<ReturnType<typeof createEdgeTestChain>> & { untrusted: string };

/** A test gateway chain plus the -untrusted file (intermediate + edge CA) openssl needs. */
async function gatewayChain(dir: string): Promise<Chain> {
  const chain = await createEdgeTestChain({ hostname: "gw.test", outDir: dir });
  const untrusted = join(dir, "untrusted.pem");
  await Deno.writeTextFile(untrusted, chain.intermediate.certPem + chain.edgeCa.certPem);
  return { ...chain, untrusted };
}

/** Whether `openssl verify` accepts the gateway's server certificate with only the tree's store. */
async function opensslVerify(root: string, chain: Chain) {
  const run = async (store: string[]) => {
    const args = ["verify", "-no-CAstore", ...store, "-untrusted", chain.untrusted];
    const openssl = new Deno.Command("openssl", { args: [...args, chain.server.certPath] });
    return (await openssl.output()).success;
  };
  return {
    capath: await run(["-no-CAfile", "-CApath", join(root, CERTS)]),
    bundle: await run(["-no-CApath", "-CAfile", join(root, CERTS, "ca-certificates.crt")]),
  };
}

/** A self-signed CA named `cn`, written to `path`. */
async function selfSignedCa(path: string, cn: string): Promise<string> {
  await Deno.writeTextFile(path, (await issueCertificate({ commonName: cn, isCa: true })).certPem);
  return path;
}

/** Asserts exit 2 with one `leaf:` line on stderr and no stack trace. */
function assertOneLine(result: LeafResult, pattern: RegExp): void {
  assert.equal(result.code, 2, result.stderr + result.stdout);
  const lines = result.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, result.stderr);
  assert.match(lines[0], /^leaf: /);
  assert.match(lines[0], pattern);
  assert.doesNotMatch(result.stderr, /\bat .*\.ts:\d+/);
}

const ca = (root: string, args: string[]) => runLeaf(["ca", ...args, "--root", root]);
const files = (dir: string) => [...Deno.readDirSync(dir)].map((e) => e.name).sort();

Deno.test(
  "leaf ca install lets openssl trust the gateway; remove undoes it",
  withTool,
  async () => {
    await using dir = await tempDir("cli-ca");
    const root = join(dir.path, "root");
    await seedTree(root);
    const chain = await gatewayChain(join(dir.path, "certs"));
    const args = ["--ca", chain.pinFile];
    const target = join(root, LOCAL, "leaf-gateway-root.crt");
    const before = await snapshot(root);
    assert.deepEqual(await opensslVerify(root, chain), { capath: false, bundle: false });
    assert.equal((await ca(root, ["status", ...args])).code, 1);

    const dry = await ca(root, ["install", ...args, "--dry-run"]);
    assert.deepEqual(dry.stdout.trimEnd().split("\n").slice(1).map((l) => l.split(" (")[0]), [
      `  write ${target}`,
      `  update-ca-certificates --certsconf ${root}/etc/ca-certificates.conf ` +
      `--certsdir ${root}/usr/share/ca-certificates --localcertsdir ${root}/${LOCAL} ` +
      `--etccertsdir ${root}/${CERTS} --hooksdir ${root}/etc/ca-certificates/update.d`,
    ]);
    assert.deepEqual([await snapshot(root), files(join(root, LOCAL))], [before, []], "dry run");

    const first = await ca(root, ["install", ...args]);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(first.stderr, "");
    assert.match(
      first.stdout,
      new RegExp(`^Installed "CN=Azure_IoT_Hub_CA_Cert_Test_Only" .* as ${target}\n`),
    );
    assert.match(first.stdout, /^update-ca-certificates: 1 added, 0 removed$/m);
    assert.deepEqual(await opensslVerify(root, chain), { capath: true, bundle: true });
    assert.equal((await Deno.stat(target)).mode! & 0o777, 0o644);
    assert.equal(await Deno.readTextFile(target), chain.root.certPem.replaceAll("\r\n", "\n"));
    const installed = await snapshot(root);

    const second = await ca(root, ["install", ...args]);
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /^Already installed: .*; nothing to do\n$/);
    assert.deepEqual(files(join(root, LOCAL)), ["leaf-gateway-root.crt"]);
    assert.deepEqual(await snapshot(root), installed, "the tool was not run again");

    const status = await ca(root, ["status", ...args]);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, new RegExp(`^Installed: ${target}\n`));
    assert.match(status.stdout, /^ {2}subject: {2}CN=Azure_IoT_Hub_CA_Cert_Test_Only$/m);
    assert.match(status.stdout, /^ {2}SHA-256: {2}([0-9A-F]{2}:){31}[0-9A-F]{2}$/m);
    assert.match(status.stdout, /^ {2}bundle: {3}.*ca-certificates\.crt contains it$/m);

    const removed = await ca(root, ["remove", ...args]);
    assert.equal(removed.code, 0, removed.stderr);
    assert.match(removed.stdout, new RegExp(`^Removed ${target}, which held "CN=`));
    assert.match(removed.stdout, /^update-ca-certificates --fresh: 4 added, 0 removed/m);
    assert.deepEqual(await snapshot(root), before, "bundle and links as before, byte for byte");
    assert.deepEqual(await opensslVerify(root, chain), { capath: false, bundle: false });

    const again = await ca(root, ["remove", ...args]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /^Not installed: .* does not exist; nothing to do\n$/);
    const gone = await ca(root, ["status", ...args]);
    assert.equal(gone.code, 1);
    assert.match(gone.stdout, /^Not installed: .*leaf-gateway-root\.crt does not exist\n/);
  },
);

Deno.test("leaf ca install replaces another root; remove spares it", withTool, async () => {
  await using dir = await tempDir("cli-ca");
  const root = join(dir.path, "root");
  await seedTree(root);
  const chain = await gatewayChain(join(dir.path, "certs"));
  const old = await selfSignedCa(join(dir.path, "old.pem"), "Old Gateway Root");
  assert.equal((await ca(root, ["install", "--ca", old, "--name", "gw.crt"])).code, 0);
  const result = await ca(root, ["install", "--ca", chain.pinFile, "--name", "gw"]);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /^Replaced .*\/gw\.crt: it held "CN=Old Gateway Root" \(SHA-256 /);
  assert.match(result.stdout, /^update-ca-certificates --fresh: /m);
  assert.deepEqual(files(join(root, LOCAL)), ["gw.crt"]);
  // A new subject hash: only a relinked (--fresh) store finds it through -CApath.
  assert.deepEqual(await opensslVerify(root, chain), { capath: true, bundle: true });

  const refused = await ca(root, ["remove", "--ca", old, "--name", "gw"]);
  assertOneLine(refused, /gw\.crt" holds "CN=Azure_IoT_Hub_CA_Cert_Test_Only" .*: not removed: /);
  assert.deepEqual(files(join(root, LOCAL)), ["gw.crt"]);
});

Deno.test("leaf ca install reruns a failed update-ca-certificates", withTool, async () => {
  await using dir = await tempDir("cli-ca");
  const root = join(dir.path, "root");
  await seedTree(root);
  const chain = await gatewayChain(join(dir.path, "certs"));
  await Deno.rename(join(root, CERTS), join(dir.path, "aside"));
  const failed = await ca(root, ["install", "--ca", chain.pinFile]);
  assertOneLine(failed, /^leaf: "update-ca-certificates .*" failed \(exit \d+\): .*can't cd/);
  await Deno.rename(join(dir.path, "aside"), join(root, CERTS));
  const retried = await ca(root, ["install", "--ca", chain.pinFile]);
  assert.equal(retried.code, 0, retried.stderr);
  assert.match(retried.stdout, /already holds .*; rebuilt the bundle, which lacked it/);
  assert.deepEqual(await opensslVerify(root, chain), { capath: true, bundle: true });
});

Deno.test("leaf ca install refuses non-CA and non-PEM files, naming the file to use", async () => {
  await using dir = await tempDir("cli-ca");
  await Deno.mkdir(join(dir.path, "etc"));
  await Deno.writeTextFile(join(dir.path, "etc/os-release"), DEBIAN);
  const certs = join(dir.path, "certs");
  const chain = await gatewayChain(certs);
  const device = await createDeviceCertificate({ outDir: certs, deviceId: "d1" });
  await Deno.writeTextFile(join(dir.path, "notes.txt"), "hello\n");
  const use = "use the root CA, e\\.g\\. azure-iot-test-only\\.root\\.ca\\.cert\\.pem$";
  const cases: [string, RegExp][] = [
    [chain.server.certPath, new RegExp(`CA:FALSE\\): this is a server certificate; ${use}`)],
    [device.certPath, new RegExp(`"CN=d1".*: this is a device \\(client\\) certificate; ${use}`)],
    [chain.root.keyPath, /contains only a private key, not a certificate: .*root\.ca\.cert\.pem/],
    [join(dir.path, "notes.txt"), /is not PEM \(no "-----BEGIN CERTIFICATE-----" line\): /],
    [chain.server.fullChainPath!, /holds 4 certificates, not one: .*\(here "CN=Azure_IoT_Hub_CA/],
  ];
  for (const [file, pattern] of cases) {
    assertOneLine(await ca(dir.path, ["install", "--ca", file]), pattern);
  }
  assert.deepEqual(files(dir.path), ["certs", "etc", "notes.txt"], "nothing written");
});

Deno.test("leaf ca install --dry-run on Fedora prints the exact steps", async () => {
  await using dir = await tempDir("cli-ca");
  const pin = await selfSignedCa(join(dir.path, "root.pem"), "Azure_IoT_Hub_CA_Cert_Test_Only");
  const osRelease = join(dir.path, "os-release");
  await Deno.writeTextFile(osRelease, 'ID=fedora\nPRETTY_NAME="Fedora Linux 40 (Server)"\n');
  const anchors = "/etc/pki/ca-trust/source/anchors";
  const exists = () => Deno.stat(anchors).then(() => true, () => false);
  const hadAnchors = await exists();
  const args = ["--ca", pin, "--os-release", osRelease];
  const result = await runLeaf(["ca", "install", ...args, "--dry-run"]);
  assert.equal(result.code, 0, result.stderr);
  const sha = (await ca(dir.path, ["status", ...args])).stdout.match(/SHA-256 ([0-9A-F:]+)/)![1];
  assert.deepEqual(result.stdout.trimEnd().split("\n"), [
    "Dry run, nothing is changed. On Fedora Linux 40 (Server), `leaf ca install` would:",
    ...(hadAnchors ? [] : [`  mkdir -p -m 0755 ${anchors}`]),
    `  write ${anchors}/leaf-gateway-root.crt (mode 0644): ` +
    `"CN=Azure_IoT_Hub_CA_Cert_Test_Only" (SHA-256 ${sha}) from "${pin}"`,
    "  update-ca-trust extract",
  ]);
  assert.equal(await exists(), hadAnchors);
});

Deno.test("leaf ca reports usage and distribution errors in one line; --ca defaults", async () => {
  await using dir = await tempDir("cli-ca");
  const pin = await selfSignedCa(join(dir.path, "root.pem"), "Test Root");
  await Deno.mkdir(join(dir.path, "etc"));
  await Deno.writeTextFile(join(dir.path, "etc/os-release"), 'ID=arch\nNAME="Arch Linux"\n');
  const root = ["--root", dir.path];
  const cases: [string[], RegExp][] = [
    [[], /needs a subcommand: use `leaf ca install`/],
    [["add"], /Unknown subcommand "ca add"/],
    [["status", "--frob"], /Unknown option "--frob"/],
    [["install", "--ca", pin, "--name", "../x"], /--name "\.\.\/x" is not a safe file name/],
    [["status"], /No CA file given: pass --ca FILE/],
    [["status", "--ca", pin, "--root", "nope"], /--root "nope" is not a directory/],
    [["install", "--ca", pin, ...root], /Unsupported distribution "arch" \(Arch Linux\); /],
  ];
  for (const [args, pattern] of cases) {
    assertOneLine(await runLeaf(["ca", ...args], { cwd: dir.path }), pattern);
  }
  const manual = (await runLeaf(["ca", "install", "--ca", pin, ...root])).stderr;
  assert.match(
    manual,
    /by hand: copy ".*root\.pem" as leaf-gateway-root\.crt into .*update-ca-trust\)$/m,
  );
  const debian = join(dir.path, "debian-os-release");
  await Deno.writeTextFile(debian, DEBIAN);
  const env = { IOTEDGE_ROOT_CA_CERT_PATH: pin };
  const status = await runLeaf(["ca", "status", ...root, "--os-release", debian], { env });
  assert.equal(status.code, 1, status.stderr);
  assert.match(
    status.stdout,
    /^ {2}wanted: {3}"CN=Test Root" \(SHA-256 [0-9A-F:]+\) from ".*root\.pem"$/m,
  );
  const help = await runLeaf(["ca", "--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--root DIR .*\n.*testing and image-building aid/);
});

// uid 65534 in a user namespace, tmpfs over the store's folders: even a
// regression could not reach this machine's real trust store.
const SANDBOX = "for d in /usr/local/share/ca-certificates /etc/ssl /etc/ca-certificates; do " +
  'mount -t tmpfs leaf-test "$d" || exit 97; done; ' +
  'exec unshare --user --map-user=65534 --map-group=65534 "$0" "$@"';
const sandboxed = (argv: string[]) =>
  new Deno.Command("unshare", {
    args: ["--user", "--map-root-user", "--mount", "sh", "-c", SANDBOX, ...argv],
    env: leafEnv(),
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
const CAN_SANDBOX = await sandboxed(["true"]).then((o) => o.success, () => false);
const inSandbox = { ignore: !CAN_SANDBOX };

Deno.test("leaf ca install without root exits 2 and suggests sudo", inSandbox, async () => {
  await using dir = await tempDir("cli-ca");
  const pin = await selfSignedCa(join(dir.path, "root.pem"), "Test Root");
  const out = await sandboxed([Deno.execPath(), ...leafCommand(["ca", "install", "--ca", pin])]);
  const [stdout, stderr] = [out.stdout, out.stderr].map((b) => new TextDecoder().decode(b));
  assertOneLine(
    { code: out.code, stdout, stderr },
    /needs root: run it with sudo, or add --dry-run/,
  );
  assert.equal(stdout, "");
});

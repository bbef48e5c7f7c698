import assert from "node:assert/strict";
import { join } from "node:path";
import { runLeaf, tempDir } from "../_helpers.ts";

const CHAIN_FILES = [
  "certs/azure-iot-test-only.root.ca.cert.pem",
  "certs/azure-iot-test-only.intermediate.cert.pem",
  "certs/azure-iot-test-only.intermediate-full-chain.cert.pem",
  "certs/iot-edge-device-ca-localhost.cert.pem",
  "certs/iot-edge-device-ca-localhost-full-chain.cert.pem",
  "certs/iot-edge-server-localhost.cert.pem",
  "certs/iot-edge-server-localhost-full-chain.cert.pem",
  "private/azure-iot-test-only.root.ca.key.pem",
  "private/azure-iot-test-only.intermediate.key.pem",
  "private/iot-edge-device-ca-localhost.key.pem",
  "private/iot-edge-server-localhost.key.pem",
];

/** Asserts a usage failure: exit 2, one `leaf:` line on stderr, no stack trace. */
function assertOneLineError(result: { code: number; stderr: string }, pattern: RegExp): void {
  assert.equal(result.code, 2, result.stderr);
  const lines = result.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, result.stderr);
  assert.match(lines[0], /^leaf: /);
  assert.match(lines[0], pattern);
  assert.doesNotMatch(result.stderr, /\bat .*\.ts:\d+/, "no stack trace");
}

Deno.test("leaf certs create writes the chain and names the file to pin", async () => {
  await using dir = await tempDir("cli-certs");
  const result = await runLeaf(["certs", "create", "--hostname", "localhost", "--out", dir.path]);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stderr, "");
  for (const file of CHAIN_FILES) {
    await Deno.stat(join(dir.path, file));
    assert.ok(result.stdout.includes(file), `stdout lists ${file}`);
  }
  const pin = join(dir.path, "certs/azure-iot-test-only.root.ca.cert.pem");
  assert.match(result.stdout, new RegExp(`^Devices must pin ${pin.replaceAll(".", "\\.")}`, "m"));
});

Deno.test("leaf certs create without --hostname exits 2 with one line", async () => {
  await using dir = await tempDir("cli-certs");
  const result = await runLeaf(["certs", "create", "--out", dir.path]);
  assertOneLineError(result, /missing --hostname/);
  assert.deepEqual([...Deno.readDirSync(dir.path)], [], "nothing written");
});

Deno.test("leaf certs create rejects an unknown flag by name", async () => {
  const result = await runLeaf(["certs", "create", "--hostnam", "x", "--out", "/tmp/x"]);
  assertOneLineError(result, /unknown flag "--hostnam"/);
});

Deno.test("leaf certs create refuses to replace a root without --force", async () => {
  await using dir = await tempDir("cli-certs");
  const args = ["certs", "create", "--hostname", "localhost", "--out", dir.path];
  assert.equal((await runLeaf(args)).code, 0);
  assertOneLineError(await runLeaf(args), /already has a root CA.*--force/);
  assert.equal((await runLeaf([...args, "--force"])).code, 0);
});

Deno.test("leaf certs device prints SHA-1 and SHA-256 thumbprints", async () => {
  await using dir = await tempDir("cli-certs");
  const result = await runLeaf([
    "certs",
    "device",
    "--id",
    "sensor-01",
    "--out",
    dir.path,
    "--self-signed",
    "--days",
    "10",
  ]);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /^SHA-1 thumbprint: +[0-9A-F]{40}$/m);
  assert.match(result.stdout, /^SHA-256 thumbprint: +[0-9A-F]{64}$/m);
  await Deno.stat(join(dir.path, "certs/iot-device-sensor-01.cert.pem"));
  await Deno.stat(join(dir.path, "private/iot-device-sensor-01.key.pem"));
});

Deno.test("leaf certs --help prints usage and exits 0", async () => {
  const result = await runLeaf(["certs", "--help"]);
  assert.equal(result.code, 0);
  assert.match(result.stdout, /leaf certs create --hostname HOST --out DIR/);
  assert.match(result.stdout, /leaf certs device --id ID --out DIR/);
});

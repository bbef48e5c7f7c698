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
  assertOneLineError(
    result,
    /Unknown option "--hostnam" for `leaf certs create`: run `leaf certs create --help`/,
  );
});

Deno.test("leaf certs create says a negative --days is out of range, not missing", async () => {
  await using dir = await tempDir("cli-certs");
  for (const days of ["-1", "0", "36501", "ten"]) {
    const result = await runLeaf([
      "certs",
      "create",
      "--hostname",
      "localhost",
      "--out",
      dir.path,
      "--days",
      days,
    ]);
    assertOneLineError(
      result,
      new RegExp(`--days "${days}" is not a whole number from 1 to 36500: pass e\\.g\\. --days 30`),
    );
  }
  assert.deepEqual([...Deno.readDirSync(dir.path)], [], "nothing written");
});

Deno.test("leaf certs device names a flag without its value and refuses extra arguments", async () => {
  assertOneLineError(
    await runLeaf(["certs", "device", "--out", "/tmp/x", "--id"]),
    /--id needs a value: run `leaf certs device --help`/,
  );
  assertOneLineError(
    await runLeaf(["certs", "device", "--id", "d", "--out", "/tmp/x", "extra"]),
    /Unexpected argument "extra" for `leaf certs device`/,
  );
  assertOneLineError(
    await runLeaf(["certs", "device", "--self-signed=yes"]),
    /--self-signed does not take a value/,
  );
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

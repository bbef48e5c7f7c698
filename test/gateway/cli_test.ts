/**
 * The `leaf gateway` command as a real subprocess: the listening line, a
 * device round trip, SIGTERM → exit 0, and one-line usage errors (exit 2).
 */
import assert from "node:assert/strict";
import {
  leafCommand,
  leafEnv,
  readJsonLines,
  ROOT,
  runLeaf,
  tempDir,
  waitFor,
} from "../_helpers.ts";
import { HUB, KEY_A, sasToken, testChainDir, usernameFor } from "./_setup.ts";
import mqtt from "mqtt";

const LISTENING =
  /^leaf gateway listening on mqtts:\/\/localhost:(\d+) \(admin http:\/\/127\.0\.0\.1:(\d+)\)$/m;

/** Collects a stream's text while the process runs. */
function collect(stream: ReadableStream<Uint8Array>): { text: () => string; done: Promise<void> } {
  let text = "";
  const done = stream.pipeThrough(new TextDecoderStream()).pipeTo(
    new WritableStream({ write: (chunk) => void (text += chunk) }),
  );
  return { text: () => text, done };
}

Deno.test("leaf gateway prints the listening line, records telemetry and exits 0 on SIGTERM", async () => {
  const certs = await testChainDir();
  await using dir = await tempDir("gw-cli");
  const out = `${dir.path}/out.jsonl`;
  const child = new Deno.Command(Deno.execPath(), {
    args: leafCommand([
      "gateway",
      "--certs",
      certs,
      "--port",
      "0",
      "--admin-port",
      "0",
      "--device",
      `dev-1:${KEY_A}`,
      "--out",
      out,
    ]),
    env: leafEnv(),
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdout = collect(child.stdout);
  const stderr = collect(child.stderr);
  try {
    const match: RegExpExecArray = await waitFor(() => LISTENING.exec(stdout.text())!, {
      timeoutMs: 30_000,
      what: `the listening line (stdout: ${stdout.text()} stderr: ${stderr.text()})`,
    });
    const client = await mqtt.connectAsync(`mqtts://localhost:${match[1]}`, {
      ca: await Deno.readTextFile(`${certs}/certs/azure-iot-test-only.root.ca.cert.pem`),
      clientId: "dev-1",
      username: usernameFor("dev-1"),
      password: await sasToken(`${HUB}/devices/dev-1`, KEY_A),
      protocolVersion: 4,
      reconnectPeriod: 0,
    }, false);
    await client.publishAsync("devices/dev-1/messages/events/%24.mid=cli-1", '{"via":"cli"}', {
      qos: 1,
    });
    await client.endAsync();
    assert.deepEqual((await readJsonLines(out)).map((r) => r.body), [{ via: "cli" }]);
    const devices = await (await fetch(`http://127.0.0.1:${match[2]}/devices`)).json();
    assert.equal(devices[0].received, 1);
    await waitFor(() => stdout.text().includes("dev-1 mid=cli-1"), { what: "the telemetry line" });
  } finally {
    child.kill("SIGTERM");
  }
  const status = await child.status;
  await Promise.all([stdout.done, stderr.done]);
  assert.equal(status.code, 0, stderr.text());
  assert.equal(stdout.text().match(/listening on/g)?.length, 1);
  assert.ok(!stdout.text().includes(KEY_A));
});

const USAGE_ERRORS: [string, string[], RegExp][] = [
  ["an unknown flag", ["--certs", "x", "--nope"], /Unknown option "--nope"/],
  ["no --certs", ["--device", `dev-1:${KEY_A}`], /--certs DIR is required/],
  [
    "a bad port",
    ["--certs", "x", "--port", "99999", "--device", `dev-1:${KEY_A}`],
    /--port "99999" is not a port number/,
  ],
  ["no devices", ["--certs", "x"], /No devices: the gateway would refuse every connection/],
  ["a bad device key", ["--certs", "x", "--device", "dev-1:not base64"], /the key is not base64/],
  [
    "a missing devices file",
    ["--certs", "x", "--devices", `${ROOT}/test/no-such-dir/devices.yaml`],
    /Devices file ".*" does not exist/,
  ],
  ["a positional argument", ["--certs", "x", "extra"], /Unexpected argument "extra"/],
];

for (const [what, args, pattern] of USAGE_ERRORS) {
  Deno.test(`leaf gateway exits 2 with one line on ${what}`, async () => {
    const result = await runLeaf(["gateway", ...args]);
    assert.equal(result.code, 2, result.stderr);
    const lines = result.stderr.trim().split("\n");
    assert.equal(lines.length, 1, result.stderr);
    assert.match(lines[0], pattern);
    assert.ok(!result.stderr.includes(KEY_A));
  });
}

Deno.test("leaf gateway exits 2 when the certs folder has no certificate for the hostname", async () => {
  const certs = await testChainDir();
  const result = await runLeaf([
    "gateway",
    "--certs",
    certs,
    "--hostname",
    "gw.example",
    "--device",
    `d:${KEY_A}`,
  ]);
  assert.equal(result.code, 2, result.stderr);
  assert.match(
    result.stderr.trim(),
    /No gateway server certificate for "gw.example".*it has "localhost"/,
  );
});

Deno.test("leaf gateway --help exits 0 and lists the flags", async () => {
  const result = await runLeaf(["gateway", "--help"]);
  assert.equal(result.code, 0);
  for (
    const flag of [
      "--certs",
      "--hostname",
      "--bind",
      "--port",
      "--device",
      "--devices",
      "--admin-port",
      "--out",
      "--state",
      "--hub",
    ]
  ) {
    assert.ok(result.stdout.includes(flag), flag);
  }
});

Deno.test("leaf gateway --help says a --devices file keeps keys out of ps", async () => {
  const result = await runLeaf(["gateway", "--help"]);
  assert.equal(result.code, 0);
  assert.match(result.stdout, /--devices FILE[\s\S]*keeps keys out of `ps`/);
});

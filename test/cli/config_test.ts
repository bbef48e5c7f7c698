/** `leaf config check` through the real entry point. */
import assert from "node:assert/strict";
import { runLeaf, tempDir } from "../_helpers.ts";

const KEY = "c2VjcmV0LWtleS1mb3ItY29uZmlnLWNoZWNr";

Deno.test("leaf config check prints the effective config with secrets redacted", async () => {
  await using dir = await tempDir("config-check");
  const file = `${dir.path}/leaf.yaml`;
  await Deno.writeTextFile(
    file,
    [
      `connectionString: "HostName=hub.example.net;DeviceId=pi-01;SharedAccessKey=${KEY};GatewayHostName=gw.local"`,
      "gateway:",
      "  caCert: certs/root.pem",
      "telemetry:",
      "  interval: 30s",
      "sensors:",
      "  - type: simulated",
      "    seed: 7",
      "",
    ].join("\n"),
  );
  const text = await runLeaf(["config", "check", "--config", file]);
  assert.equal(text.code, 0, text.stderr);
  assert.ok(!text.stdout.includes(KEY), "the key is never printed");
  assert.match(text.stdout, /SharedAccessKey=\[redacted\]/);
  assert.match(text.stdout, /interval: 30s/);
  assert.match(text.stdout, new RegExp(`caCert: ${dir.path}/certs/root.pem`));

  const json = await runLeaf(["config", "check", "--config", file, "--json"]);
  assert.equal(json.code, 0, json.stderr);
  const doc = JSON.parse(json.stdout);
  assert.equal(doc.file, file);
  assert.equal(doc.config.gateway.port, 8883);
  assert.equal(doc.config.sensors[0].seed, 7);
  assert.ok(!json.stdout.includes(KEY));

  const env = await runLeaf(["config", "check", "--config", file], {
    env: {
      IOTHUB_DEVICE_CONNECTION_STRING: `HostName=h2.net;DeviceId=pi-02;SharedAccessKey=${KEY}`,
    },
  });
  assert.match(env.stdout, /DeviceId=pi-02/, "the environment overrides the file");
});

Deno.test("leaf config check names the file, line and key of a mistake, exit 2", async () => {
  await using dir = await tempDir("config-check-bad");
  const file = `${dir.path}/leaf.yaml`;
  await Deno.writeTextFile(
    file,
    [
      "telemetry:",
      "  interval: 10s",
      "sensors:",
      "  - type: system",
      "  - type: simulated",
      "    interval: 10 sec",
      "",
    ]
      .join("\n"),
  );
  const bad = await runLeaf(["config", "check", "--config", file]);
  assert.equal(bad.code, 2);
  assert.equal(bad.stderr.trim().split("\n").length, 1);
  assert.match(
    bad.stderr,
    /leaf\.yaml:6: sensors\[1\]\.interval: "10 sec" is not a duration: use 500ms, 10s, 5m/,
  );

  await Deno.writeTextFile(file, "gatway:\n  port: 8883\n");
  const typo = await runLeaf(["config", "check", "--config", file]);
  assert.equal(typo.code, 2);
  assert.match(typo.stderr, /leaf\.yaml:1: gatway: unknown key: did you mean "gateway"\?/);

  const missing = await runLeaf(["config", "check", "--config", `${dir.path}/nope.yaml`]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /Config file ".*nope\.yaml" does not exist/);

  const usage = await runLeaf(["config", "lint"]);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /Unknown subcommand "config lint"/);
});

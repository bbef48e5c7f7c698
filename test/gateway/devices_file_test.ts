import assert from "node:assert/strict";
import { ConfigError } from "../../lib/errors.ts";
import { loadDevicesFile, parseDevicesYaml } from "../../lib/gateway/devices_file.ts";
import { tempDir } from "../_helpers.ts";
import { KEY_A, KEY_B } from "./_setup.ts";

const SHA1 = "AB".repeat(20);
const SHA256 = "cd".repeat(32);

Deno.test("parseDevicesYaml() reads keys, thumbprints, CA devices and modules", () => {
  const entries = parseDevicesYaml(
    `
- id: pi-01
  key: ${KEY_A}
  secondaryKey: ${KEY_B}
  modules:
    - id: collector
      key: ${KEY_B}
- id: cam-01
  thumbprint: "${SHA1}"
  secondaryThumbprint: "${SHA256}"
- id: cam-02
  x509Ca: true
  enabled: false
`,
    "devices.yaml",
  );
  assert.equal(entries.length, 3);
  assert.equal(entries[0].keys?.secondary?.reveal(), KEY_B);
  assert.equal(entries[0].modules.get("collector")?.keys.primary.reveal(), KEY_B);
  assert.deepEqual(entries[1].thumbprints, [SHA1, SHA256.toUpperCase()]);
  assert.equal(entries[2].auth, "x509-ca");
  assert.equal(entries[2].enabled, false);
});

const BAD_FILES: [string, string, RegExp][] = [
  ["not a list", "id: pi-01", /must be a YAML list/],
  ["broken YAML", "- id: [pi", /not valid YAML/],
  ["missing id", `- key: ${KEY_A}`, /entry 1: field "id" is missing/],
  [
    "unknown field",
    `- id: pi-01\n  primaryKey: ${KEY_A}`,
    /entry 1 \("pi-01"\): unknown field "primaryKey"/,
  ],
  ["no credentials", "- id: pi-01", /entry 1 \("pi-01"\) has no credentials/],
  ["two kinds", `- id: pi-01\n  key: ${KEY_A}\n  x509Ca: true`, /sets "key" and "x509Ca"/],
  ["bad key", "- id: pi-01\n  key: nope!", /entry 1 \("pi-01"\), field "key": not base64/],
  ["bad thumbprint", "- id: cam\n  thumbprint: ABC", /field "thumbprint": not 40 or 64 hex digits/],
  ["numeric id", `- id: 42\n  key: ${KEY_A}`, /field "id": must be a non-empty string/],
  ["bad id", `- id: "pi 01"\n  key: ${KEY_A}`, /"pi 01" is not a valid IoT Hub id/],
  [
    "module without key",
    `- id: pi\n  key: ${KEY_A}\n  modules: [{id: m}]`,
    /module 1 \("m"\) has no "key"/,
  ],
  [
    "enabled not boolean",
    `- id: pi\n  key: ${KEY_A}\n  enabled: "no"`,
    /field "enabled": must be true or false/,
  ],
];

for (const [what, text, pattern] of BAD_FILES) {
  Deno.test(`parseDevicesYaml() rejects a file with ${what}, naming entry and field`, () => {
    assert.throws(() => parseDevicesYaml(text, "devices.yaml"), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.match(error.message, /Devices file "devices.yaml"/);
      assert.match(error.message, pattern);
      assert.ok(!error.oneLine().includes("\n"));
      return true;
    });
  });
}

Deno.test("loadDevicesFile() reports a missing file as a ConfigError", async () => {
  await using dir = await tempDir("registry");
  await assert.rejects(loadDevicesFile(`${dir.path}/nope.yaml`), /does not exist/);
  await Deno.writeTextFile(`${dir.path}/d.yaml`, `- id: pi-01\n  key: ${KEY_A}\n`);
  assert.equal((await loadDevicesFile(`${dir.path}/d.yaml`))[0].id, "pi-01");
});

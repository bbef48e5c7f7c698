import assert from "node:assert/strict";
import { ConfigError } from "../../lib/errors.ts";
import {
  createRegistry,
  normalizeThumbprint,
  parseDeviceSpec,
} from "../../lib/gateway/registry.ts";
import { KEY_A, KEY_B } from "./_setup.ts";

const SHA1 = "AB".repeat(20);
const SHA256 = "cd".repeat(32);

Deno.test("parseDeviceSpec() reads ID:KEY as a symmetric-key device", () => {
  const device = parseDeviceSpec(`pi-01:${KEY_A}`);
  assert.equal(device.id, "pi-01");
  assert.equal(device.auth, "sas");
  assert.equal(device.keys?.primary.reveal(), KEY_A);
  assert.equal(device.enabled, true);
});

Deno.test("parseDeviceSpec() reads ID:x509:THUMBPRINT with or without colons", () => {
  const colons = SHA1.match(/../g)!.join(":");
  assert.deepEqual(parseDeviceSpec(`cam:x509:${colons}`).thumbprints, [SHA1]);
  const device = parseDeviceSpec(`cam:x509:${SHA256}`);
  assert.equal(device.auth, "x509-thumbprint");
  assert.deepEqual(device.thumbprints, [SHA256.toUpperCase()]);
});

Deno.test("parseDeviceSpec() reads ID:x509-ca", () => {
  assert.equal(parseDeviceSpec("cam:x509-ca").auth, "x509-ca");
});

Deno.test("parseDeviceSpec() rejects bad specs without echoing the key", () => {
  for (
    const spec of ["pi-01", ":abc", "pi-01:", `pi 01:${KEY_A}`, "pi-01:not-base64!", "cam:x509:ABC"]
  ) {
    assert.throws(() => parseDeviceSpec(spec), ConfigError, spec);
  }
  assert.throws(() => parseDeviceSpec("pi-01:secret-but-not-base64!"), (error: unknown) => {
    assert.ok(error instanceof ConfigError);
    assert.ok(!error.oneLine().includes("secret"), error.oneLine());
    return true;
  });
});

Deno.test("parseDeviceSpec() points a bad thumbprint at `leaf certs device`", () => {
  assert.throws(() => parseDeviceSpec("cam:x509:ABC"), (error: unknown) => {
    assert.ok(error instanceof ConfigError);
    assert.match(error.hint ?? "", /`leaf certs device --id ID --out DIR`/);
    return true;
  });
});

Deno.test("parseDeviceSpec() does not echo an id or spec that may be a secret", () => {
  const cs = `HostName=hub;DeviceId=pi-01;SharedAccessKey=${KEY_A}`;
  for (const spec of [cs, `${cs}:${KEY_B}`, KEY_A.replace(/=+$/, "")]) {
    assert.throws(() => parseDeviceSpec(spec), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      const line = error.oneLine();
      assert.ok(!line.includes(KEY_A) && !line.includes(KEY_B), line);
      assert.ok(!line.includes("SharedAccessKey"), line);
      assert.match(line, /not shown: it may hold a secret/);
      return true;
    }, spec);
  }
});

Deno.test("normalizeThumbprint() accepts SHA-1 and SHA-256 only", () => {
  assert.equal(normalizeThumbprint(SHA1.toLowerCase()), SHA1);
  assert.equal(normalizeThumbprint("AB:CD"), undefined);
  assert.equal(normalizeThumbprint("ZZ".repeat(20)), undefined);
});

Deno.test("createRegistry() rejects the same device twice", () => {
  assert.throws(
    () => createRegistry([parseDeviceSpec(`pi:${KEY_A}`), parseDeviceSpec(`pi:${KEY_B}`)]),
    /Device "pi" is listed twice/,
  );
});

import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import {
  type AuthPolicy,
  type ConnectRequest,
  decideConnect,
  describeRefusal,
} from "../../lib/gateway/auth.ts";
import { parseDevicesYaml } from "../../lib/gateway/devices_file.ts";
import { createRegistry } from "../../lib/gateway/registry.ts";
import { splitPem } from "../../lib/trust/pem.ts";
import { ROOT_CERT_FILE } from "../../lib/trust/chain_files.ts";
import { createDeviceCertificate } from "../../lib/trust/testchain.ts";
import { HUB, KEY_A, KEY_B, sasToken, testChainDir, usernameFor } from "./_setup.ts";

const KEY_C = btoa("leaf-test-device-key-c-000000000");

function certs(pem: string): X509Certificate[] {
  return splitPem(pem).filter((b) => b.type === "CERTIFICATE").map((b) =>
    new X509Certificate(b.der)
  );
}

let made: ReturnType<typeof makeFixture> | undefined;
/** The policy and device certificates every test uses (made once, on first use). */
function fixture() {
  return made ??= makeFixture();
}

async function makeFixture() {
  const dir = await testChainDir();
  const [selfSigned, caSigned, otherCn] = await Promise.all([
    createDeviceCertificate({ outDir: dir, deviceId: "cam-thumb", selfSigned: true }),
    createDeviceCertificate({ outDir: dir, deviceId: "cam-ca" }),
    createDeviceCertificate({ outDir: dir, deviceId: "cam-other" }),
  ]);
  const registry = createRegistry(parseDevicesYaml(
    `
- id: dev-1
  key: ${KEY_A}
  secondaryKey: ${KEY_B}
  modules: [{ id: mod-a, key: ${KEY_C} }]
- id: dev-off
  key: ${KEY_A}
  enabled: false
- id: cam-thumb
  thumbprint: "${selfSigned.sha256Thumbprint}"
- id: cam-thumb1
  thumbprint: "${selfSigned.sha1Thumbprint}"
- id: cam-ca
  x509Ca: true
`,
    "test",
  ));
  const policy: AuthPolicy = {
    registry,
    gatewayHostname: "localhost",
    trustRoots: certs(await Deno.readTextFile(`${dir}/${ROOT_CERT_FILE}`)),
  };
  return { policy, selfSigned, caSigned, otherCn };
}

async function decide(request: Partial<ConnectRequest>, policy?: Partial<AuthPolicy>) {
  const base = (await fixture()).policy;
  return decideConnect(
    { protocolVersion: 4, clientId: "dev-1", username: usernameFor("dev-1"), ...request },
    { ...base, ...policy },
  );
}

Deno.test("decideConnect() accepts a token signed with the primary or secondary key", async () => {
  for (const key of [KEY_A, KEY_B]) {
    const d = await decide({ password: await sasToken(`${HUB}/devices/dev-1`, key) });
    assert.equal(d.code, 0, d.reason);
    assert.deepEqual(d.identity, { deviceId: "dev-1" });
    assert.equal(d.auth, "sas");
    assert.ok(d.expiresAt! > Date.now() + 3500_000);
  }
});

const REFUSALS: [string, () => Promise<Partial<ConnectRequest>>, number, RegExp][] = [
  [
    "a token signed with the wrong key",
    async () => ({
      password: await sasToken(`${HUB}/devices/dev-1`, KEY_C),
    }),
    5,
    /signature does not match the device key/,
  ],
  [
    "an expired token",
    async () => ({
      password: await sasToken(`${HUB}/devices/dev-1`, KEY_A, -10),
    }),
    5,
    /token expired at/,
  ],
  [
    "a token for another device",
    async () => ({
      password: await sasToken(`${HUB}/devices/dev-2`, KEY_A),
    }),
    5,
    /issued for "dev-2", not "dev-1"/,
  ],
  [
    "a malformed audience",
    async () => ({
      password: await sasToken(`${HUB}/dev-1`, KEY_A),
    }),
    5,
    /is not HOST\/devices\/ID/,
  ],
  [
    "a password that is not a SAS token",
    () => Promise.resolve({ password: "hunter2" }),
    5,
    /not a SAS token/,
  ],
  [
    "MQTT 3.1 (protocol level 3)",
    () => Promise.resolve({ protocolVersion: 3 }),
    1,
    /level 3 is not 3.1.1/,
  ],
  ["MQTT 5", () => Promise.resolve({ protocolVersion: 5 }), 1, /level 5/],
  [
    "a username without api-version",
    async () => ({
      username: `${HUB}/dev-1/?DeviceClientType=x`,
      password: await sasToken(`${HUB}/devices/dev-1`, KEY_A),
    }),
    3,
    /no api-version/,
  ],
  ["no username", () => Promise.resolve({ username: undefined }), 3, /no username/],
  [
    "a username with too many segments",
    () => Promise.resolve({ username: "a/b/c/d/?api-version=1" }),
    3,
    /not HUB\/DEVICE/,
  ],
  [
    "a client id that is not the username's identity",
    async () => ({
      clientId: "dev-2",
      password: await sasToken(`${HUB}/devices/dev-1`, KEY_A),
    }),
    5,
    /client id "dev-2" is not the username's identity "dev-1"/,
  ],
  [
    "an unknown device",
    async () => ({
      clientId: "ghost",
      username: usernameFor("ghost"),
      password: await sasToken(`${HUB}/devices/ghost`, KEY_A),
    }),
    5,
    /unknown device/,
  ],
  [
    "a disabled device",
    async () => ({
      clientId: "dev-off",
      username: usernameFor("dev-off"),
      password: await sasToken(`${HUB}/devices/dev-off`, KEY_A),
    }),
    5,
    /disabled/,
  ],
  ["neither password nor certificate", () => Promise.resolve({}), 5, /no password/],
  [
    "a module token signed with the device key",
    async () => ({
      clientId: "dev-1/mod-a",
      username: usernameFor("dev-1/mod-a"),
      password: await sasToken(`${HUB}/devices/dev-1/modules/mod-a`, KEY_A),
    }),
    5,
    /signature does not match the module key/,
  ],
  [
    "a policy-signed token",
    async () => ({
      password: (await sasToken(`${HUB}/devices/dev-1`, KEY_A)).replace(
        "&se=",
        "&skn=iothubowner&se=",
      ),
    }),
    5,
    /policy "iothubowner"/,
  ],
];

for (const [what, request, code, reason] of REFUSALS) {
  Deno.test(`decideConnect() refuses ${what} with CONNACK ${code}`, async () => {
    const d = await decide(await request());
    assert.equal(d.code, code, d.reason);
    assert.match(d.reason, reason);
    assert.equal(d.identity, undefined);
    assert.match(describeRefusal(d), new RegExp(`^refused .+: .+ \\(CONNACK ${code}\\)$`));
  });
}

Deno.test("decideConnect() never puts the token or key in a reason", async () => {
  const token = await sasToken(`${HUB}/devices/dev-1`, KEY_C);
  const d = await decide({ password: token });
  const sig = decodeURIComponent(/sig=([^&]+)/.exec(token)![1]);
  assert.ok(!d.reason.includes(sig) && !d.reason.includes(KEY_C));
});

Deno.test("decideConnect() lets a module sign with its own key or its device's key", async () => {
  const module = { clientId: "dev-1/mod-a", username: usernameFor("dev-1/mod-a") };
  const own = await decide({
    ...module,
    password: await sasToken(`${HUB}/devices/dev-1/modules/mod-a`, KEY_C),
  });
  assert.equal(own.code, 0, own.reason);
  assert.deepEqual(own.identity, { deviceId: "dev-1", moduleId: "mod-a" });
  const byDevice = await decide({
    ...module,
    password: await sasToken(`${HUB}/devices/dev-1`, KEY_A),
  });
  assert.equal(byDevice.code, 0, byDevice.reason);
});

Deno.test("decideConnect() checks the audience host only when a hub name is set", async () => {
  const password = await sasToken("some-other-hub/devices/dev-1", KEY_A);
  assert.equal((await decide({ password })).code, 0);
  const strict = await decide({ password }, { hubName: HUB });
  assert.equal(strict.code, 5);
  assert.match(strict.reason, /neither the hub .* nor the gateway "localhost"/);
  const viaGateway = await decide({ password: await sasToken("localhost/devices/dev-1", KEY_A) }, {
    hubName: HUB,
  });
  assert.equal(viaGateway.code, 0, viaGateway.reason);
  const viaHub = await decide({ password: await sasToken(`${HUB}/devices/dev-1`, KEY_A) }, {
    hubName: HUB,
  });
  assert.equal(viaHub.code, 0, viaHub.reason);
});

function x509Request(deviceId: string, pem: string): Partial<ConnectRequest> {
  return { clientId: deviceId, username: usernameFor(deviceId), certificates: certs(pem) };
}

Deno.test("decideConnect() accepts a self-signed certificate by SHA-256 or SHA-1 thumbprint", async () => {
  const { selfSigned } = await fixture();
  for (const id of ["cam-thumb", "cam-thumb1"]) {
    const d = await decide(x509Request(id, selfSigned.certPem));
    assert.equal(d.code, 0, d.reason);
    assert.equal(d.auth, "x509-thumbprint");
  }
});

Deno.test("decideConnect() refuses a certificate whose thumbprint is not registered", async () => {
  const { caSigned } = await fixture();
  const d = await decide(x509Request("cam-thumb", caSigned.certPem));
  assert.equal(d.code, 5);
  assert.match(d.reason, /thumbprint [0-9A-F]{40} matches no registered thumbprint/);
});

Deno.test("decideConnect() refuses an expired client certificate", async () => {
  const { selfSigned } = await fixture();
  const d = await decide(x509Request("cam-thumb", selfSigned.certPem), {
    now: () => Date.now() + 400 * 86_400_000,
  });
  assert.equal(d.code, 5);
  assert.match(d.reason, /client certificate expired at/);
});

Deno.test("decideConnect() accepts a CA-signed certificate whose CN is the device id", async () => {
  const { caSigned } = await fixture();
  const d = await decide(x509Request("cam-ca", caSigned.fullChainPem!));
  assert.equal(d.code, 0, d.reason);
  assert.equal(d.auth, "x509-ca");
});

Deno.test("decideConnect() refuses a CA-signed certificate with another CN", async () => {
  const { otherCn } = await fixture();
  const d = await decide(x509Request("cam-ca", otherCn.fullChainPem!));
  assert.equal(d.code, 5);
  assert.match(d.reason, /CN "cam-other" is not the device id "cam-ca"/);
});

Deno.test("decideConnect() refuses a CA-signed leaf sent without its intermediate", async () => {
  const { caSigned } = await fixture();
  const d = await decide(x509Request("cam-ca", caSigned.certPem));
  assert.equal(d.code, 5);
  assert.match(d.reason, /does not lead to the gateway's root CA/);
});

Deno.test("decideConnect() refuses a self-signed certificate for a CA-signed device", async () => {
  const { policy } = await fixture();
  const dir = await Deno.makeTempDir({ prefix: "leaf-auth-" });
  try {
    const fake = await createDeviceCertificate({
      outDir: dir,
      deviceId: "cam-ca",
      selfSigned: true,
    });
    const d = await decideConnect(
      { protocolVersion: 4, ...x509Request("cam-ca", fake.certPem) } as ConnectRequest,
      policy,
    );
    assert.equal(d.code, 5);
    assert.match(d.reason, /does not lead to the gateway's root CA/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("decideConnect() refuses X.509 for a module and a SAS device", async () => {
  const { caSigned } = await fixture();
  const module = await decide({
    clientId: "dev-1/mod-a",
    username: usernameFor("dev-1/mod-a"),
    certificates: certs(caSigned.fullChainPem!),
  });
  assert.equal(module.code, 5);
  assert.match(module.reason, /modules cannot authenticate with X.509/);
  const sasDevice = await decide({ certificates: certs(caSigned.fullChainPem!) });
  assert.equal(sasDevice.code, 5);
  assert.match(sasDevice.reason, /symmetric keys/);
});

Deno.test("decideConnect() refuses a SAS token for an X.509 device", async () => {
  const d = await decide({
    clientId: "cam-ca",
    username: usernameFor("cam-ca"),
    password: await sasToken(`${HUB}/devices/cam-ca`, KEY_A),
  });
  assert.equal(d.code, 5);
  assert.match(d.reason, /authenticates with X.509/);
});

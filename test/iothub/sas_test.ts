import assert from "node:assert/strict";
import {
  encodeUriComponentStrict as sdkEncodeUriComponentStrict,
  SharedAccessSignature as SdkSas,
} from "azure-iot-common";
import { SharedAccessSignature as SdkDeviceSas } from "azure-iot-device";
import {
  createSasToken,
  encodeUriComponentStrict,
  hmacSha256Base64,
  parseSasToken,
  sasResourceUri,
  verifySasSignature,
} from "../../lib/iothub/sas.ts";
import { parseConnectionString } from "../../lib/iothub/connection_string.ts";
import { REDACTED, Secret } from "../../lib/secret.ts";

const KEY_16 = btoa("16-byte-key-0123");
const KEY_32 = btoa("leaf-test-key-do-not-leak-012345");
const KEY_64 = btoa("a 64-byte policy key, long enough to need more than one block!!!");
const HUB = "hub.azure-devices.net";

interface SasCase {
  name: string;
  resourceUri: string;
  key: string;
  expiry: number;
  keyName?: string;
}

const CASES: SasCase[] = [
  { name: "a device", resourceUri: `${HUB}/devices/pi-01`, key: KEY_32, expiry: 1_900_000_000 },
  {
    name: "a module",
    resourceUri: `${HUB}/devices/pi-01/modules/sensors`,
    key: KEY_32,
    expiry: 1_700_000_000,
  },
  {
    name: "a device id with !'()*",
    resourceUri: `${HUB}/devices/a!b'c(d)e*f`,
    key: KEY_16,
    expiry: 1_800_000_123,
  },
  {
    name: "a module id with !'()* in both ids",
    resourceUri: `${HUB}/devices/dev*(1)/modules/m!od'*`,
    key: KEY_32,
    expiry: 4_102_444_800,
  },
  {
    name: "every character IoT Hub allows in ids",
    resourceUri: `${HUB}/devices/a-.+%_#*?!(),:=@$'Z9`,
    key: KEY_64,
    expiry: 2_000_000_000,
  },
  // Spaces and non-ASCII are not legal in ids; the encoding must still agree.
  { name: "a space", resourceUri: `${HUB}/devices/pi 01`, key: KEY_32, expiry: 1 },
  { name: "non-ASCII", resourceUri: `${HUB}/devices/capteur-é-😀`, key: KEY_32, expiry: 99 },
  {
    name: "a policy key name",
    resourceUri: `${HUB}/devices/pi-01`,
    key: KEY_64,
    expiry: 1_900_000_000,
    keyName: "registryReadWrite",
  },
  {
    name: "a policy key name that needs encoding",
    resourceUri: HUB,
    key: KEY_32,
    expiry: 1_900_000_000,
    keyName: "my policy*(1)!",
  },
  {
    name: "a 2^31 expiry",
    resourceUri: `${HUB}/devices/pi-01`,
    key: KEY_32,
    expiry: 2 ** 31,
  },
];

/** The token the official Node SDK makes (it takes the audience already encoded, as its callers do). */
function sdkToken({ resourceUri, key, expiry, keyName }: SasCase): string {
  return String(
    SdkSas.create(sdkEncodeUriComponentStrict(resourceUri), keyName ?? "", key, expiry),
  );
}

for (const c of CASES) {
  Deno.test(`createSasToken() equals azure-iot-common SharedAccessSignature.create() for ${c.name}`, async () => {
    const ours = await createSasToken({
      resourceUri: c.resourceUri,
      key: new Secret(c.key),
      expiry: c.expiry,
      ...(c.keyName !== undefined ? { keyName: c.keyName } : {}),
    });
    assert.equal(ours.reveal(), sdkToken(c));
  });
}

Deno.test("createSasToken() equals azure-iot-device SharedAccessSignature.create() for devices", async () => {
  for (const deviceId of ["pi-01", "a!b'c(d)e*f", "a-.+%_#*?!(),:=@$'Z9"]) {
    const expiry = 1_900_000_000;
    const theirs = String(SdkDeviceSas.create(HUB, deviceId, KEY_32, expiry));
    const resourceUri = sasResourceUri({ hostName: HUB, deviceId });
    const ours = await createSasToken({ resourceUri, key: KEY_32, expiry });
    assert.equal(ours.reveal(), theirs, deviceId);
  }
});

Deno.test("encodeUriComponentStrict() equals the SDK's for every printable ASCII character and more", () => {
  const samples = [];
  for (let c = 0x20; c < 0x7f; c++) samples.push(String.fromCharCode(c));
  samples.push("é", "😀", "\u00a0", "\n", "hub.azure-devices.net/devices/d*(1)/modules/m");
  for (const s of samples) {
    assert.equal(encodeUriComponentStrict(s), sdkEncodeUriComponentStrict(s), JSON.stringify(s));
  }
});

Deno.test("encodeUriComponentStrict() escapes !'()* and '/' like the Node SDK", () => {
  assert.equal(encodeUriComponentStrict("!'()*"), "%21%27%28%29%2a");
  assert.equal(encodeUriComponentStrict("a/b c"), "a%2Fb%20c");
  assert.equal(encodeUriComponentStrict("-_.~"), "-_.~");
});

Deno.test("createSasToken() writes sr, sig, skn, se in the SDK's order", async () => {
  const token = (await createSasToken({
    resourceUri: `${HUB}/devices/pi-01`,
    key: KEY_32,
    expiry: 1_900_000_000,
    keyName: "owner",
  })).reveal();
  assert.match(
    token,
    /^SharedAccessSignature sr=hub\.azure-devices\.net%2Fdevices%2Fpi-01&sig=[A-Za-z0-9%]+&skn=owner&se=1900000000$/,
  );
  const withoutName = (await createSasToken({
    resourceUri: `${HUB}/devices/pi-01`,
    key: KEY_32,
    expiry: 1_900_000_000,
  })).reveal();
  assert.ok(!withoutName.includes("skn="), withoutName);
});

Deno.test("createSasToken() floors a fractional expiry", async () => {
  const a = await createSasToken({ resourceUri: HUB, key: KEY_32, expiry: 1_900_000_000.9 });
  const b = await createSasToken({ resourceUri: HUB, key: KEY_32, expiry: 1_900_000_000 });
  assert.equal(a.reveal(), b.reveal());
  assert.ok(a.reveal().endsWith("&se=1900000000"));
});

Deno.test("createSasToken() returns a Secret that prints [redacted]", async () => {
  const token = await createSasToken({ resourceUri: HUB, key: KEY_32, expiry: 1_900_000_000 });
  assert.ok(token instanceof Secret);
  assert.equal(String(token), REDACTED);
  assert.equal(JSON.stringify({ token }), `{"token":"${REDACTED}"}`);
});

Deno.test("hmacSha256Base64() matches a known HMAC-SHA256 vector", async () => {
  // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
  assert.equal(
    await hmacSha256Base64(btoa("Jefe"), "what do ya want for nothing?"),
    btoa(
      String.fromCharCode(
        ..."5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
          .match(/../g)!.map((h) => parseInt(h, 16)),
      ),
    ),
  );
});

Deno.test("sasResourceUri() names the hub, never the gateway", () => {
  const device = parseConnectionString(
    `HostName=${HUB};DeviceId=pi-01;SharedAccessKey=${KEY_32};GatewayHostName=gw.local`,
  );
  assert.equal(sasResourceUri(device), `${HUB}/devices/pi-01`);
  const module = parseConnectionString(
    `HostName=${HUB};DeviceId=pi-01;ModuleId=sensors;SharedAccessKey=${KEY_32};GatewayHostName=gw`,
  );
  assert.equal(sasResourceUri(module), `${HUB}/devices/pi-01/modules/sensors`);
});

// ---------------------------------------------------------------- parse and verify

Deno.test("parseSasToken() round-trips what createSasToken() makes", async () => {
  for (const c of CASES) {
    const token = (await createSasToken(c)).reveal();
    const parsed = parseSasToken(token);
    assert.ok(parsed, c.name);
    assert.equal(parsed.sr, c.resourceUri, c.name);
    assert.equal(parsed.srEncoded, sdkEncodeUriComponentStrict(c.resourceUri), c.name);
    assert.equal(parsed.se, Math.floor(c.expiry), c.name);
    assert.equal(parsed.skn, c.keyName, c.name);
    assert.equal(parsed.sig, await hmacSha256Base64(c.key, `${parsed.srEncoded}\n${parsed.se}`));
  }
});

Deno.test("parseSasToken() reads the SDK's tokens", () => {
  const c = CASES.find((x) => x.keyName === "my policy*(1)!")!;
  const parsed = parseSasToken(sdkToken(c));
  assert.ok(parsed);
  assert.equal(parsed.sr, c.resourceUri);
  assert.equal(parsed.skn, c.keyName);
  assert.equal(parsed.se, c.expiry);
});

Deno.test("parseSasToken() accepts the fields in any order", () => {
  const parsed = parseSasToken("SharedAccessSignature se=5&sig=YWJj&sr=hub%2Fdevices%2Fd");
  assert.deepEqual(parsed, {
    sr: "hub/devices/d",
    srEncoded: "hub%2Fdevices%2Fd",
    sig: "YWJj",
    se: 5,
  });
});

const NOT_TOKENS: [string, string][] = [
  ["an empty string", ""],
  ["a token without the prefix", "sr=hub&sig=YWJj&se=5"],
  ["a lower-case prefix", "sharedaccesssignature sr=hub&sig=YWJj&se=5"],
  ["a missing sr", "SharedAccessSignature sig=YWJj&se=5"],
  ["a missing sig", "SharedAccessSignature sr=hub&se=5"],
  ["a missing se", "SharedAccessSignature sr=hub&sig=YWJj"],
  ["a non-numeric se", "SharedAccessSignature sr=hub&sig=YWJj&se=soon"],
  ["a negative se", "SharedAccessSignature sr=hub&sig=YWJj&se=-5"],
  ["a duplicate field", "SharedAccessSignature sr=hub&sr=other&sig=YWJj&se=5"],
  ["a field without '='", "SharedAccessSignature sr=hub&sig=YWJj&se=5&junk"],
  ["bad percent-encoding", "SharedAccessSignature sr=hub%E0%A4%A&sig=YWJj&se=5"],
];

for (const [name, token] of NOT_TOKENS) {
  Deno.test(`parseSasToken() returns undefined for ${name}`, () => {
    assert.equal(parseSasToken(token), undefined);
  });
}

async function parsedToken(c: SasCase) {
  const parsed = parseSasToken((await createSasToken(c)).reveal());
  assert.ok(parsed);
  return parsed;
}

Deno.test("verifySasSignature() accepts the right key, ours and the SDK's", async () => {
  for (const c of CASES) {
    assert.equal(await verifySasSignature(await parsedToken(c), c.key), true, c.name);
    assert.equal(await verifySasSignature(parseSasToken(sdkToken(c))!, new Secret(c.key)), true);
  }
});

Deno.test("verifySasSignature() rejects a wrong key", async () => {
  const token = await parsedToken(CASES[0]);
  assert.equal(await verifySasSignature(token, KEY_16), false);
  assert.equal(await verifySasSignature(token, new Secret(KEY_64)), false);
});

Deno.test("verifySasSignature() rejects a key that is not base64 without throwing", async () => {
  assert.equal(await verifySasSignature(await parsedToken(CASES[0]), "not base64!"), false);
});

Deno.test("verifySasSignature() rejects a tampered se", async () => {
  const token = (await createSasToken(CASES[0])).reveal();
  const later = parseSasToken(token.replace(/se=(\d+)$/, (_, se) => `se=${Number(se) + 3600}`));
  assert.ok(later);
  assert.equal(await verifySasSignature(later, CASES[0].key), false);
});

Deno.test("verifySasSignature() rejects a tampered sr", async () => {
  const token = (await createSasToken(CASES[0])).reveal();
  const other = parseSasToken(token.replace("pi-01", "pi-02"));
  assert.ok(other);
  assert.equal(other.sr, `${HUB}/devices/pi-02`);
  assert.equal(await verifySasSignature(other, CASES[0].key), false);
});

Deno.test("verifySasSignature() rejects a re-encoded sr (the signature covers sr as sent)", async () => {
  const c = CASES.find((x) => x.name === "a device id with !'()*")!;
  const token = (await createSasToken(c)).reveal();
  const upper = parseSasToken(token.replace("%2a", "%2A"));
  assert.ok(upper);
  assert.equal(upper.sr, c.resourceUri, "same audience once decoded");
  assert.equal(await verifySasSignature(upper, c.key), false);
});

Deno.test("verifySasSignature() rejects a tampered or truncated sig", async () => {
  const token = await parsedToken(CASES[0]);
  const flipped = token.sig[0] === "A" ? `B${token.sig.slice(1)}` : `A${token.sig.slice(1)}`;
  assert.equal(await verifySasSignature({ ...token, sig: flipped }, CASES[0].key), false);
  assert.equal(
    await verifySasSignature({ ...token, sig: token.sig.slice(0, -1) }, CASES[0].key),
    false,
  );
  assert.equal(await verifySasSignature({ ...token, sig: "" }, CASES[0].key), false);
});

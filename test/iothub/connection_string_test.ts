import assert from "node:assert/strict";
import {
  authMode,
  clientIdOf,
  type ConnectionString,
  parseConnectionString,
  redactConnectionString,
} from "../../lib/iothub/connection_string.ts";
import { ConfigError } from "../../lib/errors.ts";
import { REDACTED } from "../../lib/secret.ts";

/** A 32-byte device key, like the ones IoT Hub generates. */
const KEY = btoa("leaf-test-key-do-not-leak-012345");
/** A ready-made token (its content does not matter to the parser). */
const TOKEN =
  "SharedAccessSignature sr=hub.azure-devices.net%2Fdevices%2Fpi-01&sig=bGVha3k%3D&se=1900000000";
const HUB = "HostName=hub.azure-devices.net";

/** Every way a secret could show up in an error: whole, unpadded, or its first 12 characters. */
const SECRET_FRAGMENTS = [KEY, KEY.replace(/=+$/, ""), KEY.slice(0, 12), TOKEN, "bGVha3k"];

function assertNoSecret(text: string | undefined, where: string) {
  for (const fragment of SECRET_FRAGMENTS) {
    assert.ok(!(text ?? "").includes(fragment), `${where} leaks "${fragment}": ${text}`);
  }
}

/** Asserts `text` is rejected with a ConfigError (exit 2) whose message includes `names`. */
function assertRejected(text: string, names: (string | RegExp)[]): ConfigError {
  let error: unknown;
  try {
    parseConnectionString(text);
  } catch (e) {
    error = e;
  }
  assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${error}`);
  assert.equal(error.exitCode, 2);
  assert.equal(error.code, "config");
  assert.match(error.message, /^Invalid connection string: /);
  for (const name of names) {
    if (typeof name === "string") assert.ok(error.message.includes(name), error.message);
    else assert.match(error.message, name);
  }
  assert.ok(error.hint && error.hint.length > 0, "every rejection says what to do next");
  assertNoSecret(error.message, "message");
  assertNoSecret(error.hint, "hint");
  assertNoSecret(error.oneLine(), "oneLine()");
  assertNoSecret(String(error), "String(error)");
  return error;
}

// ---------------------------------------------------------------- valid forms

Deno.test("parseConnectionString() reads a device key with a gateway", () => {
  const cs = parseConnectionString(
    `${HUB};DeviceId=pi-01;SharedAccessKey=${KEY};GatewayHostName=edge-01.local`,
  );
  assert.equal(cs.hostName, "hub.azure-devices.net");
  assert.equal(cs.deviceId, "pi-01");
  assert.equal(cs.gatewayHostName, "edge-01.local");
  assert.equal(cs.gatewayPort, undefined);
  assert.equal(cs.sharedAccessKey?.reveal(), KEY);
  assert.equal(cs.x509, false);
  assert.equal(cs.moduleId, undefined);
  assert.ok(!("moduleId" in cs), "absent keys are absent, not undefined");
  assert.ok(!("sharedAccessSignature" in cs));
  assert.equal(authMode(cs), "sas-key");
  assert.equal(clientIdOf(cs), "pi-01");
});

Deno.test("parseConnectionString() reads a module identity", () => {
  const cs = parseConnectionString(
    `${HUB};DeviceId=pi-01;ModuleId=sensors;SharedAccessKey=${KEY};GatewayHostName=gw`,
  );
  assert.equal(cs.moduleId, "sensors");
  assert.equal(clientIdOf(cs), "pi-01/sensors");
  assert.equal(authMode(cs), "sas-key");
});

Deno.test("parseConnectionString() keeps GatewayHostName with x509=true (the Node SDK drops it)", () => {
  const cs = parseConnectionString(`${HUB};DeviceId=pi-01;x509=true;GatewayHostName=edge-01.local`);
  assert.equal(cs.x509, true);
  assert.equal(cs.gatewayHostName, "edge-01.local");
  assert.equal(cs.sharedAccessKey, undefined);
  assert.equal(authMode(cs), "x509");
});

Deno.test("parseConnectionString() accepts x509=false next to a key", () => {
  const cs = parseConnectionString(`${HUB};DeviceId=pi-01;SharedAccessKey=${KEY};x509=false`);
  assert.equal(cs.x509, false);
  assert.equal(authMode(cs), "sas-key");
});

Deno.test("parseConnectionString() splits GatewayHostName=host:port", () => {
  for (
    const [value, host, port] of [
      ["gw.local:8884", "gw.local", 8884],
      ["localhost:1", "localhost", 1],
      ["192.168.1.10:65535", "192.168.1.10", 65535],
      ["192.168.1.10", "192.168.1.10", undefined],
    ] as const
  ) {
    const cs = parseConnectionString(
      `${HUB};DeviceId=pi-01;SharedAccessKey=${KEY};GatewayHostName=${value}`,
    );
    assert.equal(cs.gatewayHostName, host, value);
    assert.equal(cs.gatewayPort, port, value);
  }
});

Deno.test("parseConnectionString() tolerates a trailing ';', blank segments, spaces and any key order", () => {
  for (
    const text of [
      `${HUB};DeviceId=pi-01;SharedAccessKey=${KEY};`,
      `${HUB};DeviceId=pi-01;SharedAccessKey=${KEY};;`,
      `  ${HUB} ; DeviceId = pi-01 ; SharedAccessKey = ${KEY} \n`,
      `SharedAccessKey=${KEY};DeviceId=pi-01;${HUB}`,
    ]
  ) {
    const cs = parseConnectionString(text);
    assert.equal(cs.hostName, "hub.azure-devices.net", text);
    assert.equal(cs.deviceId, "pi-01", text);
    assert.equal(cs.sharedAccessKey?.reveal(), KEY, text);
  }
});

Deno.test("parseConnectionString() reads a ready-made SharedAccessSignature", () => {
  const cs = parseConnectionString(
    `${HUB};DeviceId=pi-01;SharedAccessSignature=${TOKEN};GatewayHostName=gw`,
  );
  assert.equal(cs.sharedAccessSignature?.reveal(), TOKEN);
  assert.equal(cs.sharedAccessKey, undefined);
  assert.equal(cs.gatewayHostName, "gw");
  assert.equal(authMode(cs), "sas-token");
});

Deno.test("parseConnectionString() reads SharedAccessKeyName with its key", () => {
  const cs = parseConnectionString(
    `${HUB};DeviceId=pi-01;SharedAccessKeyName=registryReadWrite;SharedAccessKey=${KEY}`,
  );
  assert.equal(cs.sharedAccessKeyName, "registryReadWrite");
  assert.equal(cs.sharedAccessKey?.reveal(), KEY);
  assert.equal(authMode(cs), "sas-key");
});

Deno.test("parseConnectionString() accepts every character IoT Hub allows in ids", () => {
  const id = "a-.+%_#*?!(),:=@$'Z9";
  const cs = parseConnectionString(
    `${HUB};DeviceId=${id};ModuleId=${id};SharedAccessKey=${KEY}`,
  );
  assert.equal(cs.deviceId, id);
  assert.equal(cs.moduleId, id);
  assert.equal(clientIdOf(cs), `${id}/${id}`);
  assert.equal(
    parseConnectionString(`${HUB};DeviceId=${"d".repeat(128)};x509=true`).deviceId.length,
    128,
  );
});

Deno.test("parseConnectionString() accepts keys of any decoded length", () => {
  for (const raw of ["k", "16-byte-key-0123", "a 64-byte key ".repeat(5).slice(0, 64)]) {
    const key = btoa(raw);
    const cs = parseConnectionString(`${HUB};DeviceId=pi-01;SharedAccessKey=${key}`);
    assert.equal(cs.sharedAccessKey?.reveal(), key);
  }
});

// ---------------------------------------------------------------- malformed forms

interface Rejection {
  name: string;
  text: string;
  /** What the message must name (usually the key). */
  names: (string | RegExp)[];
  /** What the hint must mention, when it matters. */
  hint?: RegExp;
}

const REJECTIONS: Rejection[] = [
  { name: "an empty string", text: "", names: ["it is empty"] },
  { name: "only whitespace", text: " \n\t ", names: ["it is empty"] },
  {
    name: "a missing HostName",
    text: `DeviceId=pi-01;SharedAccessKey=${KEY}`,
    names: [`"HostName" is missing`],
    hint: /HostName=/,
  },
  {
    name: "a missing DeviceId",
    text: `${HUB};SharedAccessKey=${KEY}`,
    names: [`"DeviceId" is missing`],
    hint: /DeviceId=/,
  },
  {
    name: "a duplicate key",
    text: `${HUB};DeviceId=pi-01;SharedAccessKey=${KEY};SharedAccessKey=${KEY}`,
    names: [`"SharedAccessKey" appears twice`],
  },
  {
    name: "a duplicate HostName",
    text: `${HUB};DeviceId=pi-01;HostName=other.azure-devices.net;SharedAccessKey=${KEY}`,
    names: [`"HostName" appears twice`],
  },
  {
    name: "an unknown key",
    text: `${HUB};DeviceId=pi-01;SharedAccessKey=${KEY};Protocol=mqtt`,
    names: [`unknown key "Protocol"`],
    hint: /GatewayHostName/,
  },
  {
    name: "a wrong-case key and suggests the right one",
    text: `hostname=hub.azure-devices.net;DeviceId=pi-01;SharedAccessKey=${KEY}`,
    names: [`"hostname"`, `use "HostName"`],
  },
  {
    name: "X509 in upper case and suggests x509",
    text: `${HUB};DeviceId=pi-01;X509=true`,
    names: [`"X509"`, `use "x509"`],
  },
  {
    name: "a key that is not base64",
    text: `${HUB};DeviceId=pi-01;SharedAccessKey=not base64!`,
    names: [`"SharedAccessKey" is not base64`],
  },
  {
    name: "a key with broken padding",
    text: `${HUB};DeviceId=pi-01;SharedAccessKey=${KEY.slice(0, -1)}`,
    names: [`"SharedAccessKey" is not base64`],
  },
  {
    name: "a key together with x509=true",
    text: `${HUB};DeviceId=pi-01;SharedAccessKey=${KEY};x509=true`,
    names: ["x509=true", `"SharedAccessKey"`],
  },
  {
    name: "a signature together with x509=true",
    text: `${HUB};DeviceId=pi-01;SharedAccessSignature=${TOKEN};x509=true`,
    names: ["x509=true", `"SharedAccessSignature"`],
  },
  {
    name: "a key together with a signature",
    text: `${HUB};DeviceId=pi-01;SharedAccessKey=${KEY};SharedAccessSignature=${TOKEN}`,
    names: [`"SharedAccessKey"`, `"SharedAccessSignature"`],
  },
  {
    name: "SharedAccessKeyName without a key",
    text: `${HUB};DeviceId=pi-01;SharedAccessKeyName=owner;SharedAccessSignature=${TOKEN}`,
    names: [`"SharedAccessKeyName" is set without "SharedAccessKey"`],
  },
  {
    name: "no credentials at all",
    text: `${HUB};DeviceId=pi-01;GatewayHostName=gw`,
    names: ["no credentials"],
    hint: /SharedAccessKey=.*x509=true/,
  },
  {
    name: "x509=false without other credentials",
    text: `${HUB};DeviceId=pi-01;x509=false`,
    names: ["no credentials"],
  },
  {
    name: "x509=maybe",
    text: `${HUB};DeviceId=pi-01;x509=maybe`,
    names: [`"x509" must be true or false`, `"maybe"`],
  },
  {
    name: "a module with x509=true",
    text: `${HUB};DeviceId=pi-01;ModuleId=sensors;x509=true`,
    names: [`"ModuleId"`, "x509=true"],
  },
  {
    name: "a HostName with a scheme",
    text: `HostName=https://hub.azure-devices.net;DeviceId=pi-01;SharedAccessKey=${KEY}`,
    names: [`"HostName"`, "is not a host name"],
  },
  {
    name: "a HostName with a port",
    text: `HostName=hub.azure-devices.net:8883;DeviceId=pi-01;SharedAccessKey=${KEY}`,
    names: [`"HostName"`, "is not a host name"],
  },
  {
    name: "a DeviceId with a slash",
    text: `${HUB};DeviceId=pi/01;SharedAccessKey=${KEY}`,
    names: [`"DeviceId" "pi/01"`, "characters IoT Hub does not allow"],
  },
  {
    name: "a DeviceId with a space",
    text: `${HUB};DeviceId=pi 01;SharedAccessKey=${KEY}`,
    names: [`"DeviceId" "pi 01"`],
  },
  {
    name: "a DeviceId longer than 128 characters",
    text: `${HUB};DeviceId=${"d".repeat(129)};SharedAccessKey=${KEY}`,
    names: [`"DeviceId"`],
  },
  {
    name: "a ModuleId with non-ASCII characters",
    text: `${HUB};DeviceId=pi-01;ModuleId=capteur-é;SharedAccessKey=${KEY}`,
    names: [`"ModuleId" "capteur-é"`],
  },
  {
    name: "a segment without '='",
    text: `${HUB};DeviceId=pi-01;SharedAccessKey=${KEY};GatewayHostName`,
    names: ["segment 4 is not key=value"],
  },
  {
    name: "a pasted key without 'SharedAccessKey=' and does not quote it",
    text: `${HUB};DeviceId=pi-01;${KEY.replace(/=+$/, "")}`,
    names: ["segment 3 is not key=value"],
  },
  {
    name: "a pasted padded key as an unknown key and does not quote it",
    text: `${HUB};DeviceId=pi-01;${KEY}`,
    names: ["segment 3 has an unknown key"],
  },
  {
    name: "a segment with a value but no key",
    text: `${HUB};DeviceId=pi-01;=${KEY}`,
    names: ["segment 3 has a value but no key"],
  },
  {
    name: "an empty DeviceId",
    text: `${HUB};DeviceId=;SharedAccessKey=${KEY}`,
    names: [`"DeviceId" is empty`],
  },
  {
    name: "an empty SharedAccessKey",
    text: `${HUB};DeviceId=pi-01;SharedAccessKey=`,
    names: [`"SharedAccessKey" is empty`],
  },
  {
    name: "a gateway port above 65535",
    text: `${HUB};DeviceId=pi-01;SharedAccessKey=${KEY};GatewayHostName=gw.local:70000`,
    names: [`"GatewayHostName" port 70000 is out of range`],
    hint: /1 to 65535/,
  },
  {
    name: "gateway port 0",
    text: `${HUB};DeviceId=pi-01;SharedAccessKey=${KEY};GatewayHostName=gw.local:0`,
    names: [`"GatewayHostName" port 0 is out of range`],
  },
  {
    name: "a gateway with a scheme",
    text: `${HUB};DeviceId=pi-01;SharedAccessKey=${KEY};GatewayHostName=mqtts://gw.local`,
    names: [`"GatewayHostName"`, "is not a host name"],
  },
  {
    name: "a signature without its 'SharedAccessSignature ' prefix and does not quote it",
    text: `${HUB};DeviceId=pi-01;SharedAccessSignature=${
      TOKEN.slice("SharedAccessSignature ".length)
    }`,
    names: [`"SharedAccessSignature" does not start with`],
  },
  // Mangled separators put the key inside a value the message quotes.
  {
    name: "a DeviceId run into the key and does not quote the key",
    text: `${HUB};DeviceId=pi-01 SharedAccessKey=${KEY}`,
    names: [`"DeviceId"`, `SharedAccessKey=${REDACTED}`],
  },
  {
    name: "a HostName run into the key with ',' and does not quote the key",
    text: `HostName=hub.azure-devices.net,SharedAccessKey=${KEY};DeviceId=pi-01`,
    names: [`"HostName"`, REDACTED],
  },
  {
    name: "a GatewayHostName run into a token and does not quote the token",
    text:
      `${HUB};DeviceId=pi-01;SharedAccessKey=${KEY};GatewayHostName=gw SharedAccessSignature=${TOKEN}`,
    names: [`"GatewayHostName"`],
  },
];

for (const { name, text, names, hint } of REJECTIONS) {
  Deno.test(`parseConnectionString() rejects ${name}`, () => {
    const error = assertRejected(text, names);
    if (hint) assert.match(error.hint ?? "", hint);
  });
}

Deno.test("parseConnectionString() checks at least 12 malformed forms", () => {
  assert.ok(REJECTIONS.length >= 12);
});

// ---------------------------------------------------------------- secrets

function sampleWithEverySecret(): ConnectionString {
  return parseConnectionString(
    `${HUB};DeviceId=pi-01;ModuleId=sensors;SharedAccessKeyName=owner;SharedAccessKey=${KEY};GatewayHostName=gw.local:8884`,
  );
}

Deno.test("redactConnectionString() never contains the key", () => {
  const cs = sampleWithEverySecret();
  const redacted = redactConnectionString(cs);
  assertNoSecret(redacted, "redactConnectionString()");
  assert.equal(
    redacted,
    `HostName=hub.azure-devices.net;DeviceId=pi-01;ModuleId=sensors;SharedAccessKeyName=owner;SharedAccessKey=${REDACTED};GatewayHostName=gw.local:8884`,
  );
});

Deno.test("redactConnectionString() never contains the signature", () => {
  const cs = parseConnectionString(`${HUB};DeviceId=pi-01;SharedAccessSignature=${TOKEN}`);
  const redacted = redactConnectionString(cs);
  assertNoSecret(redacted, "redactConnectionString()");
  assert.equal(
    redacted,
    `HostName=hub.azure-devices.net;DeviceId=pi-01;SharedAccessSignature=${REDACTED}`,
  );
});

Deno.test("redactConnectionString() keeps x509=true and the gateway", () => {
  const cs = parseConnectionString(`${HUB};DeviceId=pi-01;x509=true;GatewayHostName=gw`);
  assert.equal(
    redactConnectionString(cs),
    "HostName=hub.azure-devices.net;DeviceId=pi-01;GatewayHostName=gw;x509=true",
  );
});

Deno.test("redactConnectionString() output parses back to the same identity", () => {
  const cs = parseConnectionString(`${HUB};DeviceId=pi-01;x509=true;GatewayHostName=gw:8884`);
  assert.deepEqual(parseConnectionString(redactConnectionString(cs)), cs);
});

Deno.test("parseConnectionString() result prints [redacted] for the key and the signature", () => {
  const cs = sampleWithEverySecret();
  assert.equal(String(cs.sharedAccessKey), REDACTED);
  assert.equal(`${cs.sharedAccessKey}`, REDACTED);
  const json = JSON.stringify(cs);
  assertNoSecret(json, "JSON.stringify(cs)");
  assert.equal(JSON.parse(json).sharedAccessKey, REDACTED);
  assertNoSecret(Deno.inspect(cs), "Deno.inspect(cs)");

  const token = parseConnectionString(`${HUB};DeviceId=pi-01;SharedAccessSignature=${TOKEN}`);
  assert.equal(String(token.sharedAccessSignature), REDACTED);
  assertNoSecret(JSON.stringify(token), "JSON.stringify(token cs)");
  assertNoSecret(Deno.inspect(token), "Deno.inspect(token cs)");
});

import assert from "node:assert/strict";
import { API_VERSION, buildUsername, parseUsername } from "../../lib/iothub/username.ts";

const HUB = "hub.azure-devices.net";
const AGENT = "leaf/0.1.0 (deno 2.9.6; linux; x86_64)";

Deno.test("buildUsername() writes hub/device/?api-version&DeviceClientType exactly", () => {
  assert.equal(
    buildUsername(HUB, "pi-01", AGENT),
    "hub.azure-devices.net/pi-01/?api-version=2021-04-12&DeviceClientType=leaf%2F0.1.0%20(deno%202.9.6%3B%20linux%3B%20x86_64)",
  );
});

Deno.test("buildUsername() writes a module client id as device/module", () => {
  assert.equal(
    buildUsername(HUB, "pi-01/sensors", "leaf/0.1.0"),
    "hub.azure-devices.net/pi-01/sensors/?api-version=2021-04-12&DeviceClientType=leaf%2F0.1.0",
  );
});

Deno.test("buildUsername() encodes '&', '=' and non-ASCII in the client type", () => {
  assert.equal(
    buildUsername(HUB, "pi-01", "a&b=c é"),
    `${HUB}/pi-01/?api-version=${API_VERSION}&DeviceClientType=a%26b%3Dc%20%C3%A9`,
  );
});

Deno.test("API_VERSION is the one the official Node SDK sends", () => {
  assert.equal(API_VERSION, "2021-04-12");
});

// ---------------------------------------------------------------- parse

Deno.test("parseUsername() reads a device username", () => {
  assert.deepEqual(parseUsername(buildUsername(HUB, "pi-01", AGENT)), {
    host: HUB,
    deviceId: "pi-01",
    params: { "api-version": "2021-04-12", DeviceClientType: AGENT },
  });
});

Deno.test("parseUsername() reads a module username", () => {
  assert.deepEqual(parseUsername(`${HUB}/pi-01/sensors/?api-version=2021-04-12`), {
    host: HUB,
    deviceId: "pi-01",
    moduleId: "sensors",
    params: { "api-version": "2021-04-12" },
  });
});

Deno.test("parseUsername() reads the legacy form without '?'", () => {
  assert.deepEqual(
    parseUsername(`${HUB}/pi-01/api-version=2016-11-14&DeviceClientType=azure-iot-device%2F1.0`),
    {
      host: HUB,
      deviceId: "pi-01",
      params: { "api-version": "2016-11-14", DeviceClientType: "azure-iot-device/1.0" },
    },
  );
  assert.deepEqual(parseUsername(`${HUB}/pi-01/sensors/api-version=2018-06-30`), {
    host: HUB,
    deviceId: "pi-01",
    moduleId: "sensors",
    params: { "api-version": "2018-06-30" },
  });
});

Deno.test("parseUsername() does not check the host or the api-version value (as edgeHub)", () => {
  const gateway = parseUsername("edge-01.local/pi-01/?api-version=1");
  assert.ok(!("error" in gateway));
  assert.equal(gateway.host, "edge-01.local");
  assert.equal(gateway.params["api-version"], "1");
});

Deno.test("parseUsername() reads ids that start with or contain '?' (legal id characters)", () => {
  for (
    const [username, deviceId, moduleId] of [
      [`${HUB}/?pi/?api-version=2021-04-12`, "?pi", undefined],
      [`${HUB}/pi?01/?api-version=2021-04-12`, "pi?01", undefined],
      [`${HUB}/?pi/?m/?api-version=2021-04-12`, "?pi", "?m"],
      [`${HUB}/?pi/api-version=2016-11-14`, "?pi", undefined],
    ] as const
  ) {
    const parsed = parseUsername(username);
    assert.ok(!("error" in parsed), `${username}: ${JSON.stringify(parsed)}`);
    assert.equal(parsed.deviceId, deviceId, username);
    assert.equal(parsed.moduleId, moduleId, username);
    assert.equal(parsed.params["api-version"] !== undefined, true);
  }
});

Deno.test("parseUsername() keeps the first of duplicate parameters (as edgeHub)", () => {
  const parsed = parseUsername(`${HUB}/pi-01/?api-version=1&api-version=2&x=a&x=b`);
  assert.ok(!("error" in parsed));
  assert.equal(parsed.params["api-version"], "1");
  assert.equal(parsed.params.x, "a");
});

Deno.test("parseUsername() keeps model-id, auth-chain and unknown parameters", () => {
  const parsed = parseUsername(
    `${HUB}/pi-01/?api-version=2021-04-12&model-id=dtmi%3Acom%3Aexample%3BThermostat%3B1&auth-chain=a%3Bb&x=1&flag`,
  );
  assert.ok(!("error" in parsed));
  assert.deepEqual(parsed.params, {
    "api-version": "2021-04-12",
    "model-id": "dtmi:com:example;Thermostat;1",
    "auth-chain": "a;b",
    x: "1",
    flag: "",
  });
});

const MISSING_API_VERSION = [
  `${HUB}/pi-01/?DeviceClientType=leaf`,
  `${HUB}/pi-01/?`,
  `${HUB}/pi-01`,
  `${HUB}/pi-01/sensors/?DeviceClientType=leaf`,
  `${HUB}/pi-01/?api-version`.replace("api-version", "apiversion=1"),
  `${HUB}/pi-01/?API-VERSION=2021-04-12`,
  // edgeHub refuses an empty or blank value.
  `${HUB}/pi-01/?api-version=`,
  `${HUB}/pi-01/?api-version=%20&DeviceClientType=leaf`,
  `${HUB}/pi-01/?api-version`,
];

for (const username of MISSING_API_VERSION) {
  Deno.test(`parseUsername() reports a missing api-version in "${username}"`, () => {
    assert.deepEqual(parseUsername(username), { error: "api-version" });
  });
}

const BAD_SEGMENTS = [
  "",
  HUB,
  `${HUB}/?api-version=2021-04-12`,
  `${HUB}/pi-01/sensors/extra/?api-version=2021-04-12`,
  `${HUB}//?api-version=2021-04-12`,
  `/pi-01/?api-version=2021-04-12`,
  `${HUB}/pi-01//?api-version=2021-04-12`,
  `${HUB}/pi-01/sensors/extra/api-version=2021-04-12`,
];

for (const username of BAD_SEGMENTS) {
  Deno.test(`parseUsername() rejects the segment count of "${username}"`, () => {
    assert.deepEqual(parseUsername(username), { error: "segments" });
  });
}

Deno.test("parseUsername() rejects malformed percent-encoding", () => {
  assert.deepEqual(
    parseUsername(`${HUB}/pi-01/?api-version=2021-04-12&DeviceClientType=%E0%A4%A`),
    { error: "encoding" },
  );
});

Deno.test("parseUsername() round-trips buildUsername() for devices and modules", () => {
  const agents = [AGENT, "a&b=c", "température ✓ 😀", "100% / 50%", "x?y#z"];
  for (const clientId of ["pi-01", "pi-01/sensors", "a-.+%_#*?!(),:=@$'Z9", "?pi/?m"]) {
    for (const agent of agents) {
      const parsed = parseUsername(buildUsername(HUB, clientId, agent));
      assert.ok(!("error" in parsed), `${clientId} ${agent}`);
      assert.equal(parsed.host, HUB);
      const [deviceId, moduleId] = clientId.split("/");
      assert.equal(parsed.deviceId, deviceId);
      assert.equal(parsed.moduleId, moduleId);
      assert.equal(parsed.params["api-version"], API_VERSION);
      assert.equal(parsed.params.DeviceClientType, agent);
    }
  }
});

import assert from "node:assert/strict";
import { type Config, SCHEMA } from "../../lib/config/schema.ts";
import { formatPath, render, validate } from "../../lib/config/validate.ts";
import { ConfigError } from "../../lib/errors.ts";
import { Secret } from "../../lib/secret.ts";

const KEY = btoa("leaf-test-key-do-not-leak-012345");
const CS =
  `HostName=hub.azure-devices.net;DeviceId=pi-01;SharedAccessKey=${KEY};GatewayHostName=gw.local`;

/** Validates `raw` against the leaf schema. */
function check(raw: unknown): Config {
  return validate(SCHEMA, raw) as unknown as Config;
}

/** Asserts `raw` is rejected with a ConfigError (exit 2) and returns it. */
function rejected(raw: unknown): ConfigError {
  let error: unknown;
  try {
    check(raw);
  } catch (e) {
    error = e;
  }
  assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${error}`);
  assert.equal(error.exitCode, 2);
  assert.equal(error.code, "config");
  assert.ok(!error.oneLine().includes(KEY), `the key leaks: ${error.oneLine()}`);
  return error;
}

// ------------------------------------------------------------------ defaults

Deno.test("validate() fills every default for an empty document", () => {
  const config = check({});
  assert.deepEqual(config, {
    gateway: { keepAlive: 60_000, connectTimeout: 30_000, ackTimeout: 30_000 },
    auth: { tokenLifetime: 3_600_000 },
    reconnect: { minDelay: 100, maxDelay: 30_000 },
    stateDir: "/var/lib/leaf",
    telemetry: { interval: 10_000 },
    sysfsRoot: "/sys",
    procfsRoot: "/proc",
    sensors: [{ type: "system" }],
    outbox: {
      maxBytes: 64 * 1024 * 1024,
      commitInterval: 1_000,
      commitEvery: 100,
      window: 32,
      synchronous: "full",
    },
    log: { level: "info", format: "text", statusInterval: 60_000 },
    shutdownTimeout: 5_000,
  });
});

Deno.test("validate() treats null and an empty mapping like an absent section", () => {
  assert.deepEqual(check(null), check({}));
  assert.deepEqual(check({ gateway: null, log: {} }), check({}));
});

Deno.test("validate() fills defaults beside the values given", () => {
  const config = check({
    gateway: { port: 8884, keepAlive: "2m" },
    telemetry: { batch: {} },
    outbox: { maxBytes: "1MiB" },
  });
  assert.equal(config.gateway.port, 8884);
  assert.equal(config.gateway.keepAlive, 120_000);
  assert.equal(config.gateway.connectTimeout, 30_000);
  assert.deepEqual(config.telemetry.batch, { maxBytes: 4096, maxDelay: 30_000 });
  assert.equal(config.outbox.maxBytes, 1024 * 1024);
  assert.equal(config.outbox.window, 32);
});

Deno.test("validate() leaves optional sections without defaults absent", () => {
  const config = check({});
  assert.equal(config.telemetry.batch, undefined);
  assert.equal(config.auth.x509, undefined);
  assert.equal(config.gateway.port, undefined);
  assert.equal(config.outbox.maxAge, undefined);
  assert.ok(!("connectionString" in config));
});

Deno.test("validate() does not share default objects between calls", () => {
  const a = check({});
  a.sensors.push({ type: "w1" });
  assert.deepEqual(check({}).sensors, [{ type: "system" }]);
});

Deno.test("validate() wraps connectionString in a Secret", () => {
  const config = check({ connectionString: CS });
  assert.ok(config.connectionString instanceof Secret);
  assert.equal(config.connectionString.reveal(), CS);
  assert.ok(!JSON.stringify(config).includes(KEY));
});

Deno.test("validate() accepts an integer written as a string", () => {
  assert.equal(check({ gateway: { port: "8883" } }).gateway.port, 8883);
});

// --------------------------------------------------------------- unknown keys

Deno.test("validate() names an unknown key and suggests the one a typo away", () => {
  const error = rejected({ gatway: { port: 8883 } });
  assert.match(error.message, /^gatway: unknown key$/);
  assert.equal(error.hint, 'did you mean "gateway"?');
});

Deno.test("validate() suggests the key an unknown key differs from only in case", () => {
  const error = rejected({ Gateway: { port: 8883 } });
  assert.equal(error.message, "Gateway: unknown key");
  assert.equal(error.hint, 'did you mean "gateway"?');
  const nested = rejected({ gateway: { keepalive: "60s" } });
  assert.equal(nested.message, "gateway.keepalive: unknown key");
  assert.equal(nested.hint, 'did you mean "keepAlive"?');
});

Deno.test("validate() lists the known keys when no key is near", () => {
  const error = rejected({ reconnect: { backoff: "1s" } });
  assert.equal(error.message, "reconnect.backoff: unknown key");
  assert.equal(error.hint, "known keys here: minDelay, maxDelay");
});

Deno.test("validate() names the path of an unknown key inside a sensor", () => {
  const error = rejected({
    sensors: [{ type: "system" }, { type: "thermal", zone: "x", zones: 1 }],
  });
  assert.equal(error.message, "sensors[1].zones: unknown key");
});

// ------------------------------------------------------------------ durations

Deno.test("validate() names the key path, value and format of a bad duration", () => {
  const error = rejected({
    sensors: [{ type: "system" }, { type: "simulated" }, {
      type: "thermal",
      zone: "cpu-thermal",
      interval: "10 sec",
    }],
  });
  assert.ok(error.message.includes("sensors[2].interval"), error.message);
  assert.ok(error.message.includes('"10 sec"'), error.message);
  assert.ok(error.message.includes("is not a duration"), error.message);
  assert.match(error.hint ?? "", /500ms, 10s, 5m/);
});

Deno.test("validate() rejects a bare number as a duration", () => {
  const error = rejected({ telemetry: { interval: 10 } });
  assert.equal(error.message, "telemetry.interval: 10 is not a duration");
});

// ------------------------------------------------------------ tagged sensors

Deno.test("validate() reads every sensor type of the CLI contract", () => {
  const config = check({
    sensors: [
      { type: "system" },
      { type: "simulated", seed: 7 },
      { type: "thermal", zone: "cpu-thermal" },
      { type: "hwmon", chip: "rpi_volt" },
      { type: "iio", device: "bme280" },
      { type: "w1" },
      { type: "command", run: ["/usr/bin/vcgencmd", "measure_temp"] },
      { type: "file", path: "/run/sensor/level", scale: 0.001, name: "level", interval: "1s" },
    ],
  });
  assert.deepEqual(config.sensors, [
    { type: "system" },
    { type: "simulated", seed: 7 },
    { type: "thermal", zone: "cpu-thermal" },
    { type: "hwmon", chip: "rpi_volt" },
    { type: "iio", device: "bme280" },
    { type: "w1" },
    { type: "command", run: ["/usr/bin/vcgencmd", "measure_temp"] },
    { type: "file", path: "/run/sensor/level", scale: 0.001, name: "level", interval: 1_000 },
  ]);
});

Deno.test("validate() fills a sensor variant's own defaults", () => {
  const config = check({ sensors: [{ type: "simulated" }, { type: "file", path: "/x" }] });
  assert.deepEqual(config.sensors, [{ type: "simulated", seed: 1 }, {
    type: "file",
    path: "/x",
    scale: 1,
  }]);
});

Deno.test("validate() rejects an unknown sensor type and lists the known ones", () => {
  const error = rejected({ sensors: [{ type: "system" }, { type: "lidar" }] });
  assert.equal(error.message, 'sensors[1].type: "lidar" is not known');
  assert.equal(
    error.hint,
    "use one of system, simulated, thermal, hwmon, iio, w1, command, file",
  );
});

Deno.test("validate() rejects a sensor without a type", () => {
  const error = rejected({ sensors: [{ zone: "cpu-thermal" }] });
  assert.equal(error.message, 'sensors[0]: "type" is missing');
  assert.match(error.hint ?? "", /use one of system, /);
});

Deno.test("validate() rejects a sensor that is not a mapping", () => {
  const error = rejected({ sensors: ["thermal"] });
  assert.equal(error.message, 'sensors[0]: "thermal" is not a mapping');
  assert.equal(error.hint, 'write "type: ..." and its options');
});

Deno.test("validate() requires zone for a thermal sensor", () => {
  const error = rejected({ sensors: [{ type: "thermal" }] });
  assert.equal(error.message, "sensors[0].zone: is required");
});

Deno.test("validate() requires the identifying key of hwmon, iio, command and file sensors", () => {
  const cases: [string, string][] = [["hwmon", "chip"], ["iio", "device"], ["command", "run"], [
    "file",
    "path",
  ]];
  for (const [type, key] of cases) {
    assert.equal(rejected({ sensors: [{ type }] }).message, `sensors[0].${key}: is required`);
  }
});

Deno.test("validate() requires command.run to be a list of strings", () => {
  const cases: [unknown, string][] = [
    ["/usr/bin/vcgencmd measure_temp", '"/usr/bin/vcgencmd measure_temp" is not a list of strings'],
    [["/usr/bin/vcgencmd", 1], "a list is not a list of strings"],
    [["/usr/bin/vcgencmd", ""], "a list is not a list of strings"],
    [{ cmd: "x" }, "a mapping is not a list of strings"],
  ];
  for (const [run, message] of cases) {
    const error = rejected({ sensors: [{ type: "command", run }] });
    assert.equal(error.message, `sensors[0].run: ${message}`);
    assert.match(error.hint ?? "", /\["\/usr\/bin\/vcgencmd", "measure_temp"\]/);
  }
  assert.equal(
    rejected({ sensors: [{ type: "command", run: [] }] }).message,
    "sensors[0].run: needs at least 1 item",
  );
});

Deno.test("validate() rejects sensors that are not a list", () => {
  const error = rejected({ sensors: { type: "system" } });
  assert.equal(error.message, "sensors: a mapping is not a list");
});

// ------------------------------------------------------------------- bounds

Deno.test.each([
  [{ gateway: { port: 0 } }, "gateway.port: 0 is below 1", undefined],
  [{ gateway: { port: 65536 } }, "gateway.port: 65536 is above 65535", undefined],
  [{ gateway: { port: 88.5 } }, "gateway.port: 88.5 is not an integer", undefined],
  [{ gateway: { port: "x" } }, 'gateway.port: "x" is not an integer', undefined],
  [{ gateway: { keepAlive: "1s" } }, 'gateway.keepAlive: "1s" is too short', "use at least 5s"],
  [{ gateway: { keepAlive: "1h" } }, 'gateway.keepAlive: "1h" is too long', "use at most 29m"],
  [{ auth: { tokenLifetime: "2d" } }, 'auth.tokenLifetime: "2d" is too long', "use at most 1d"],
  [
    { reconnect: { minDelay: "0ms" } },
    'reconnect.minDelay: "0ms" is too short',
    "use at least 1ms",
  ],
  [{ outbox: { maxBytes: "1KB" } }, 'outbox.maxBytes: "1KB" is too small', "use at least 1KiB"],
  [
    { outbox: { maxBytes: "lots" } },
    'outbox.maxBytes: "lots" is not a size',
    "use 4096, 512KiB, 64MiB",
  ],
  [{ outbox: { window: 0 } }, "outbox.window: 0 is below 1", undefined],
  [{ outbox: { window: 2000 } }, "outbox.window: 2000 is above 1024", undefined],
  [
    { telemetry: { batch: { maxBytes: 100 } } },
    "telemetry.batch.maxBytes: 100 is too small",
    "use at least 256",
  ],
  [
    { log: { level: "trace" } },
    'log.level: "trace" is not one of debug, info, warn, error',
    undefined,
  ],
  [
    { sensors: [{ type: "file", path: "/x", scale: "1/1000" }] },
    'sensors[0].scale: "1/1000" is not a number',
    undefined,
  ],
  [{ stateDir: "" }, 'stateDir: "" is not text', "write a file path"],
  [
    { gateway: "gw.local" },
    'gateway: "gw.local" is not a mapping',
    "write key: value lines indented under it",
  ],
] as [Record<string, unknown>, string, string | undefined][])(
  "validate() enforces bounds and types: %j",
  (raw, message, hint) => {
    const error = rejected(raw);
    assert.equal(error.message, message);
    assert.equal(error.hint, hint);
  },
);

Deno.test("validate() accepts the bounds themselves", () => {
  const config = check({
    gateway: { port: 65535, keepAlive: "5s" },
    auth: { tokenLifetime: "1d" },
    outbox: { maxBytes: "1KiB", window: 1 },
    shutdownTimeout: "0s",
  });
  assert.equal(config.gateway.port, 65535);
  assert.equal(config.gateway.keepAlive, 5_000);
  assert.equal(config.auth.tokenLifetime, 86_400_000);
  assert.equal(config.outbox.maxBytes, 1024);
  assert.equal(config.shutdownTimeout, 0);
});

Deno.test("validate() rejects a top level that is not a mapping", () => {
  const error = rejected(["a"]);
  assert.equal(error.message, "(top level): a list is not a mapping");
});

// ---------------------------------------------------------------- secrets

Deno.test("validate() never echoes a connection string that is not where it belongs", () => {
  for (const raw of [CS, { gateway: CS }, { log: { level: CS } }, { stateDir: [CS] }]) {
    const error = rejected(raw);
    assert.ok(!error.message.includes(KEY), error.message);
  }
  const error = rejected(CS);
  assert.match(error.message, /SharedAccessKey=\[redacted\]/);
});

Deno.test("validate() does not quote a connectionString of the wrong type", () => {
  const error = rejected({ connectionString: [CS] });
  assert.equal(error.message, "connectionString: expected text");
});

// ------------------------------------------------------------------ locate

Deno.test("validate() prefixes errors with what locate() returns for the key path", () => {
  const seen: (string | number)[][] = [];
  let error: unknown;
  try {
    validate(SCHEMA, { sensors: [{ type: "w1", interval: "x" }] }, (path) => {
      seen.push(path);
      return "leaf.yaml:7";
    });
  } catch (e) {
    error = e;
  }
  assert.ok(error instanceof ConfigError);
  assert.equal(error.message, 'leaf.yaml:7: sensors[0].interval: "x" is not a duration');
  assert.deepEqual(seen, [["sensors", 0, "interval"]]);
});

Deno.test("formatPath() writes keys with dots and list indexes in brackets", () => {
  assert.equal(formatPath([]), "(top level)");
  assert.equal(formatPath(["gateway"]), "gateway");
  assert.equal(formatPath(["gateway", "port"]), "gateway.port");
  assert.equal(formatPath(["sensors", 2, "interval"]), "sensors[2].interval");
  assert.equal(formatPath(["sensors", 0, "run", 1]), "sensors[0].run[1]");
});

// ------------------------------------------------------------------ render

Deno.test("render() prints durations and sizes as text and the secret as [redacted]", () => {
  const config = check({
    connectionString: CS,
    gateway: { caCert: "/etc/leaf/ca.pem", port: 8883 },
    telemetry: { interval: "1500ms", batch: { maxBytes: "8KiB" } },
    sensors: [{ type: "thermal", zone: "cpu-thermal", interval: "5m" }, { type: "simulated" }],
    outbox: { maxBytes: "1000000", maxAge: "7d" },
  });
  const out = render(SCHEMA, config) as Record<string, Record<string, unknown>>;
  assert.equal(out.connectionString, "[redacted]");
  assert.deepEqual(out.gateway, {
    caCert: "/etc/leaf/ca.pem",
    port: 8883,
    keepAlive: "1m",
    connectTimeout: "30s",
    ackTimeout: "30s",
  });
  assert.deepEqual(out.auth, { tokenLifetime: "1h" });
  assert.deepEqual(out.reconnect, { minDelay: "100ms", maxDelay: "30s" });
  assert.deepEqual(out.telemetry, {
    interval: "1500ms",
    batch: { maxBytes: "8KiB", maxDelay: "30s" },
  });
  assert.deepEqual(out.sensors, [
    { type: "thermal", zone: "cpu-thermal", interval: "5m" },
    { type: "simulated", seed: 1 },
  ]);
  assert.deepEqual(out.outbox, {
    maxBytes: "1000000",
    maxAge: "7d",
    commitInterval: "1s",
    commitEvery: 100,
    window: 32,
    synchronous: "full",
  });
  assert.equal(out.shutdownTimeout, "5s");
  assert.ok(!JSON.stringify(out).includes(KEY));
});

Deno.test("render() output validates back to the same config", () => {
  const config = check({
    connectionStringFile: "/run/credentials/leaf.service/cs",
    gateway: { keepAlive: "90s" },
    outbox: { maxBytes: "64MiB", maxAge: "1d" },
    sensors: [{ type: "command", run: ["/bin/echo", "1"], unit: "V" }],
  });
  assert.deepEqual(check(render(SCHEMA, config)), config);
});

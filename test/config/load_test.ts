import assert from "node:assert/strict";
import { join } from "node:path";
import {
  type ConfigFlags,
  findConfigFile,
  loadConfig,
  parseConfigText,
} from "../../lib/config/load.ts";
import { readConnectionString, resolveTarget } from "../../lib/config/target.ts";
import { ConfigError } from "../../lib/errors.ts";
import { Secret } from "../../lib/secret.ts";
import { tempDir } from "../_helpers.ts";

/** Device keys, as IoT Hub generates them; none may ever appear in an error. */
const KEY = btoa("leaf-test-key-do-not-leak-012345");
const ENV_KEY = btoa("leaf-env-key-do-not-leak-6789ab");
const FLAG_KEY = btoa("leaf-flag-key-do-not-leak-cdef01");
const KEYS = [KEY, ENV_KEY, FLAG_KEY];

const cs = (key: string, gateway = "gw.local", device = "pi-01") =>
  `HostName=hub.azure-devices.net;DeviceId=${device};SharedAccessKey=${key};GatewayHostName=${gateway}`;
const X509_CS = "HostName=hub.azure-devices.net;DeviceId=pi-01;x509=true;GatewayHostName=gw.local";

/** An environment lookup over a fixed table (the real environment is never read). */
const envOf = (vars: Record<string, string> = {}) => (name: string): string | undefined =>
  Object.hasOwn(vars, name) ? vars[name] : undefined;
const NO_ENV = envOf();

/** YAML text from lines, so tests can name line numbers. */
const yaml = (...lines: string[]) => lines.join("\n") + "\n";

function assertNoSecret(error: ConfigError) {
  for (const key of KEYS) {
    for (const text of [error.message, error.hint ?? "", error.oneLine(), String(error)]) {
      assert.ok(!text.includes(key), `a key leaks: ${text}`);
      assert.ok(!text.includes(key.slice(0, 12)), `part of a key leaks: ${text}`);
    }
  }
}

/** Awaits `promise`, asserts a ConfigError (exit 2) without secrets, returns it. */
async function rejects(promise: Promise<unknown>): Promise<ConfigError> {
  let error: unknown;
  try {
    await promise;
  } catch (e) {
    error = e;
  }
  assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${error}`);
  assert.equal(error.exitCode, 2);
  assertNoSecret(error);
  return error;
}

/** Writes `text` to `name` in `dir` and returns the path. */
async function write(dir: string, name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await Deno.writeTextFile(path, text);
  return path;
}

// ------------------------------------------------------------ parseConfigText

Deno.test("parseConfigText() reports a YAML syntax error as file:line", async () => {
  const error = await rejects(parseConfigText(
    yaml(
      `connectionString: "${cs(KEY)}"`,
      "gateway:",
      "  caCert: /etc/leaf/ca.pem",
      "log:",
      "  level: info",
      "log:",
      "  level: debug",
    ),
    "/etc/leaf/leaf.yaml",
  ));
  assert.match(error.message, /^\/etc\/leaf\/leaf\.yaml:6: YAML syntax error: /);
  assert.match(error.hint ?? "", /indentation or quoting/);
});

Deno.test("parseConfigText() reports an over-indented key at the line of the value it runs into", async () => {
  const error = await rejects(parseConfigText(
    yaml("stateDir: /tmp/leaf", "gateway:", "  caCert: /x", "    port: 8883"),
    "leaf.yaml",
  ));
  assert.match(error.message, /^leaf\.yaml:3: YAML syntax error: /);
});

Deno.test("parseConfigText() does not echo the key from a line with a syntax error", async () => {
  const error = await rejects(
    parseConfigText(yaml(`connectionString: ${cs(KEY)}: oops`), "leaf.yaml"),
  );
  assert.match(error.message, /^leaf\.yaml:1: YAML syntax error/);
  const unclosed = await rejects(
    parseConfigText(yaml(`connectionString: "${cs(KEY)}`, "log: {"), "leaf.yaml"),
  );
  assert.match(unclosed.message, /^leaf\.yaml:\d+: YAML syntax error/);
});

/** A config with a line per setting; tests replace one line to break it. */
const GOOD = [
  "# leaf test config", // 1
  `connectionString: "${cs(KEY)}"`, // 2
  "gateway:", // 3
  "  caCert: /etc/leaf/ca.pem", // 4
  "  port: 8883", // 5
  "  keepAlive: 60s", // 6
  "sensors:", // 7
  "  - type: system", // 8
  "  - type: simulated", // 9
  "    seed: 3", // 10
  "  - type: thermal", // 11
  "    zone: cpu-thermal", // 12
  "    interval: 10s", // 13
  "log:", // 14
  "  level: info", // 15
];

/** GOOD with 1-based line `n` replaced by `lines` (none to delete it). */
function edit(n: number, ...lines: string[]): string {
  const out = [...GOOD];
  out.splice(n - 1, 1, ...lines);
  return yaml(...out);
}

Deno.test("parseConfigText() reads a good file", async () => {
  const config = await parseConfigText(yaml(...GOOD), "leaf.yaml");
  assert.ok(config.connectionString instanceof Secret);
  assert.equal(config.gateway.caCert, "/etc/leaf/ca.pem");
  assert.equal(config.gateway.port, 8883);
  assert.deepEqual(config.sensors, [
    { type: "system" },
    { type: "simulated", seed: 3 },
    { type: "thermal", zone: "cpu-thermal", interval: 10_000 },
  ]);
});

Deno.test("parseConfigText() treats an empty file as all defaults", async () => {
  const config = await parseConfigText("", "leaf.yaml");
  assert.equal(config.stateDir, "/var/lib/leaf");
  assert.equal(config.gateway.keepAlive, 60_000);
  const comments = await parseConfigText("# nothing yet\n", "leaf.yaml");
  assert.deepEqual(comments, config);
});

Deno.test("parseConfigText() names the file, line and key path of a bad duration", async () => {
  const error = await rejects(parseConfigText(edit(13, "    interval: 10 sec"), "leaf.yaml"));
  assert.equal(error.message, 'leaf.yaml:13: sensors[2].interval: "10 sec" is not a duration');
  assert.match(error.hint ?? "", /500ms, 10s, 5m/);
});

Deno.test("parseConfigText() names the line of a value out of bounds", async () => {
  const error = await rejects(parseConfigText(edit(6, "  keepAlive: 1s"), "leaf.yaml"));
  assert.equal(error.message, 'leaf.yaml:6: gateway.keepAlive: "1s" is too short');
  const port = await rejects(parseConfigText(edit(5, "  port: 0"), "leaf.yaml"));
  assert.equal(port.message, "leaf.yaml:5: gateway.port: 0 is below 1");
});

Deno.test("parseConfigText() names the line of an unknown key, not of its value", async () => {
  const error = await rejects(parseConfigText(edit(3, "gatway:"), "leaf.yaml"));
  assert.equal(error.message, "leaf.yaml:3: gatway: unknown key");
  assert.equal(error.hint, 'did you mean "gateway"?');
  const nested = await rejects(
    parseConfigText(edit(5, "  port: 8883", "  retry:", "    max: 3"), "leaf.yaml"),
  );
  assert.equal(nested.message, "leaf.yaml:6: gateway.retry: unknown key");
});

Deno.test("parseConfigText() points a missing required key at its sensor's line", async () => {
  const error = await rejects(parseConfigText(edit(12), "leaf.yaml"));
  assert.equal(error.message, "leaf.yaml:11: sensors[2].zone: is required");
});

Deno.test("parseConfigText() names the line of an unknown sensor type", async () => {
  const error = await rejects(parseConfigText(edit(9, "  - type: simulatd"), "leaf.yaml"));
  assert.equal(error.message, 'leaf.yaml:9: sensors[1].type: "simulatd" is not known');
});

Deno.test("parseConfigText() names the line of a key in a flow mapping", async () => {
  const error = await rejects(
    parseConfigText(yaml(...GOOD.slice(0, 13), "log: { level: info, format: xml }"), "leaf.yaml"),
  );
  assert.equal(error.message, 'leaf.yaml:14: log.format: "xml" is not one of text, json');
});

Deno.test("parseConfigText() redacts a connection string pasted as the whole file", async () => {
  const error = await rejects(parseConfigText(cs(KEY) + "\n", "/run/credentials/leaf/cs"));
  assert.match(
    error.message,
    /^\/run\/credentials\/leaf\/cs:1: \(top level\): .* is not a mapping$/,
  );
});

// ---------------------------------------------------------------- loadConfig

Deno.test("loadConfig() names a --config file that does not exist (exit 2)", async () => {
  await using dir = await tempDir("load");
  const missing = join(dir.path, "nope.yaml");
  const error = await rejects(loadConfig({ config: missing }, NO_ENV));
  assert.equal(error.message, `Config file "${missing}" does not exist`);
  assert.match(error.hint ?? "", /--config FILE or set LEAF_CONFIG/);
  assert.ok(error.cause instanceof Deno.errors.NotFound);
});

Deno.test("loadConfig() names a $LEAF_CONFIG file that does not exist", async () => {
  await using dir = await tempDir("load");
  const missing = join(dir.path, "nope.yaml");
  const error = await rejects(loadConfig({}, envOf({ LEAF_CONFIG: missing })));
  assert.equal(error.message, `Config file "${missing}" does not exist`);
});

Deno.test("loadConfig() says when the config path cannot be read", async () => {
  await using dir = await tempDir("load");
  const error = await rejects(loadConfig({ config: dir.path }, NO_ENV));
  assert.match(error.message, new RegExp(`^Config file "${dir.path}" cannot be read \\(`));
});

Deno.test("loadConfig() reports the file's errors with its path", async () => {
  await using dir = await tempDir("load");
  const file = await write(dir.path, "leaf.yaml", edit(13, "    interval: 10 sec"));
  const error = await rejects(loadConfig({ config: file }, NO_ENV));
  assert.equal(error.message, `${file}:13: sensors[2].interval: "10 sec" is not a duration`);
});

Deno.test("findConfigFile() prefers --config, then $LEAF_CONFIG", async () => {
  assert.equal(await findConfigFile("/a.yaml", envOf({ LEAF_CONFIG: "/b.yaml" })), "/a.yaml");
  assert.equal(await findConfigFile(undefined, envOf({ LEAF_CONFIG: "/b.yaml" })), "/b.yaml");
});

Deno.test("findConfigFile() ignores an empty $LEAF_CONFIG", async () => {
  const found = await findConfigFile(undefined, envOf({ LEAF_CONFIG: "" }));
  assert.ok(
    found === undefined || ["/etc/leaf/leaf.yaml", "./leaf.yaml"].includes(found),
    String(found),
  );
});

/** A file with every overridable setting, and an environment overriding it. */
async function precedenceFixture(dir: string) {
  const file = await write(
    dir,
    "leaf.yaml",
    yaml(
      `connectionString: "${cs(KEY, "file-gw.local")}"`,
      "gateway:",
      "  caCert: /file/ca.pem",
      "  port: 1001",
      "log:",
      "  level: debug",
    ),
  );
  const other = await write(dir, "other.yaml", yaml("log:", "  level: warn"));
  const env = {
    LEAF_CONFIG: other,
    IOTHUB_DEVICE_CONNECTION_STRING: cs(ENV_KEY, "env-gw.local"),
    IOTEDGE_ROOT_CA_CERT_PATH: "/env/ca.pem",
  };
  return { file, other, env };
}

Deno.test("loadConfig() without file, environment or flags gives the defaults", async () => {
  await using dir = await tempDir("load");
  const empty = await write(dir.path, "empty.yaml", "");
  const { config, file } = await loadConfig({ config: empty }, NO_ENV);
  assert.equal(file, empty);
  assert.equal(config.connectionString, undefined);
  assert.equal(config.gateway.caCert, undefined);
  assert.equal(config.gateway.port, undefined);
  assert.equal(config.log.level, "info");
});

Deno.test("loadConfig() takes the file over the defaults", async () => {
  await using dir = await tempDir("load");
  const { file } = await precedenceFixture(dir.path);
  const { config } = await loadConfig({ config: file }, NO_ENV);
  assert.equal(config.connectionString?.reveal(), cs(KEY, "file-gw.local"));
  assert.equal(config.gateway.caCert, "/file/ca.pem");
  assert.equal(config.gateway.port, 1001);
  assert.equal(config.log.level, "debug");
});

Deno.test("loadConfig() takes the environment over the file", async () => {
  await using dir = await tempDir("load");
  const { file, env } = await precedenceFixture(dir.path);
  const { config } = await loadConfig({ config: file }, envOf(env));
  assert.equal(config.connectionString?.reveal(), cs(ENV_KEY, "env-gw.local"));
  assert.equal(config.gateway.caCert, "/env/ca.pem");
  assert.equal(config.log.level, "debug", "--config beats $LEAF_CONFIG");
});

Deno.test("loadConfig() reads the file named by $LEAF_CONFIG", async () => {
  await using dir = await tempDir("load");
  const { other, env } = await precedenceFixture(dir.path);
  const loaded = await loadConfig({}, envOf(env));
  assert.equal(loaded.file, other);
  assert.equal(loaded.config.log.level, "warn");
});

Deno.test("loadConfig() takes flags over the environment", async () => {
  await using dir = await tempDir("load");
  const { file, env } = await precedenceFixture(dir.path);
  const flags: ConfigFlags = {
    config: file,
    connectionString: cs(FLAG_KEY, "flag-gw.local"),
    ca: "/flag/ca.pem",
    port: 1003,
  };
  const { config } = await loadConfig(flags, envOf(env));
  assert.equal(config.connectionString?.reveal(), cs(FLAG_KEY, "flag-gw.local"));
  assert.equal(config.gateway.caCert, "/flag/ca.pem");
  assert.equal(config.gateway.port, 1003);
});

Deno.test("loadConfig() ignores empty environment variables", async () => {
  await using dir = await tempDir("load");
  const { file } = await precedenceFixture(dir.path);
  const { config } = await loadConfig(
    { config: file },
    envOf({ IOTHUB_DEVICE_CONNECTION_STRING: "", IOTEDGE_ROOT_CA_CERT_PATH: "" }),
  );
  assert.equal(config.connectionString?.reveal(), cs(KEY, "file-gw.local"));
  assert.equal(config.gateway.caCert, "/file/ca.pem");
});

Deno.test("loadConfig() lets the environment's connection string replace connectionStringFile", async () => {
  await using dir = await tempDir("load");
  const file = await write(dir.path, "leaf.yaml", "connectionStringFile: /run/cs\n");
  const { config } = await loadConfig(
    { config: file },
    envOf({ IOTHUB_DEVICE_CONNECTION_STRING: cs(ENV_KEY) }),
  );
  assert.equal(config.connectionStringFile, undefined);
  assert.equal(config.connectionString?.reveal(), cs(ENV_KEY));
});

Deno.test("loadConfig() rejects connectionString and connectionStringFile together", async () => {
  await using dir = await tempDir("load");
  const file = await write(
    dir.path,
    "leaf.yaml",
    yaml(`connectionString: "${cs(KEY)}"`, "connectionStringFile: /run/cs"),
  );
  const error = await rejects(loadConfig({ config: file }, NO_ENV));
  assert.equal(error.message, `${file}: connectionString and connectionStringFile are both set`);
  assert.equal(error.hint, "keep one of them");
});

Deno.test("loadConfig() rejects reconnect.minDelay longer than maxDelay", async () => {
  await using dir = await tempDir("load");
  const file = await write(
    dir.path,
    "leaf.yaml",
    yaml(`connectionString: "${cs(KEY)}"`, "reconnect:", "  minDelay: 1m", "  maxDelay: 10s"),
  );
  const error = await rejects(loadConfig({ config: file }, NO_ENV));
  assert.equal(error.message, `${file}: reconnect.minDelay is longer than reconnect.maxDelay`);
  assert.equal(error.hint, "make minDelay the smaller one");
});

Deno.test("loadConfig() sets auth.x509 from --cert and --key, and wants both", async () => {
  await using dir = await tempDir("load");
  const file = await write(dir.path, "leaf.yaml", "");
  const { config } = await loadConfig({ config: file, cert: "/d.pem", key: "/d.key" }, NO_ENV);
  assert.deepEqual(config.auth.x509, { cert: "/d.pem", key: "/d.key" });
  const noKey = await rejects(loadConfig({ config: file, cert: "/d.pem" }, NO_ENV));
  assert.equal(noKey.message, "--key is missing");
  const noCert = await rejects(loadConfig({ config: file, key: "/d.key" }, NO_ENV));
  assert.equal(noCert.message, "--cert is missing");
});

// -------------------------------------------------- connection string sources

/** A validated config with the given overrides of connection settings. */
async function configWith(text: string) {
  return await parseConfigText(text, "leaf.yaml");
}

Deno.test("readConnectionString() reads connectionStringFile", async () => {
  await using dir = await tempDir("target");
  const path = await write(dir.path, "cs", cs(KEY) + "\n");
  const parsed = await readConnectionString(
    await configWith(`connectionStringFile: ${path}\n`),
    NO_ENV,
  );
  assert.equal(parsed.deviceId, "pi-01");
  assert.equal(parsed.sharedAccessKey?.reveal(), KEY);
});

Deno.test("readConnectionString() expands $CREDENTIALS_DIRECTORY in connectionStringFile", async () => {
  await using dir = await tempDir("target");
  await write(dir.path, "leaf-cs", cs(KEY, "gw.local", "cred-dev"));
  const env = envOf({ CREDENTIALS_DIRECTORY: dir.path });
  for (const form of ["$CREDENTIALS_DIRECTORY/leaf-cs", "${CREDENTIALS_DIRECTORY}/leaf-cs"]) {
    const config = await configWith(`connectionStringFile: "${form}"\n`);
    assert.equal((await readConnectionString(config, env)).deviceId, "cred-dev", form);
  }
});

Deno.test("readConnectionString() says $CREDENTIALS_DIRECTORY is not set", async () => {
  const config = await configWith('connectionStringFile: "$CREDENTIALS_DIRECTORY/leaf-cs"\n');
  for (const env of [NO_ENV, envOf({ CREDENTIALS_DIRECTORY: "" })]) {
    const error = await rejects(readConnectionString(config, env));
    assert.equal(
      error.message,
      'connectionStringFile "$CREDENTIALS_DIRECTORY/leaf-cs" uses $CREDENTIALS_DIRECTORY, which is not set',
    );
    assert.match(error.hint ?? "", /LoadCredential=/);
  }
});

Deno.test("readConnectionString() names a connectionStringFile it cannot read", async () => {
  await using dir = await tempDir("target");
  const env = envOf({ CREDENTIALS_DIRECTORY: dir.path });
  const config = await configWith('connectionStringFile: "$CREDENTIALS_DIRECTORY/missing"\n');
  const error = await rejects(readConnectionString(config, env));
  assert.equal(
    error.message,
    `connectionStringFile "${dir.path}/missing" cannot be read (NotFound)`,
  );
});

Deno.test("readConnectionString() rejects a bad string in connectionStringFile without echoing the key", async () => {
  await using dir = await tempDir("target");
  const path = await write(
    dir.path,
    "cs",
    `HostName=hub.azure-devices.net;DeviceId=pi-01;SharedAccesKey=${KEY}`,
  );
  const error = await rejects(
    readConnectionString(await configWith(`connectionStringFile: ${path}\n`), NO_ENV),
  );
  assert.match(error.message, /^Invalid connection string: /);
});

Deno.test("readConnectionString() says where to set a missing connection string", async () => {
  const error = await rejects(readConnectionString(await configWith(""), NO_ENV));
  assert.equal(error.message, "No connection string");
  assert.match(error.hint ?? "", /IOTHUB_DEVICE_CONNECTION_STRING/);
  assert.match(error.hint ?? "", /--connection-string/);
});

// --------------------------------------------------------------- resolveTarget

/** Loads `fileText` with `flags` and resolves the target. */
async function target(
  dir: string,
  fileText: string,
  flags: ConfigFlags = {},
  env: Record<string, string> = {},
) {
  const file = await write(dir, "leaf.yaml", fileText);
  const { config } = await loadConfig({ config: file, ...flags }, envOf(env));
  return await resolveTarget(config, envOf(env));
}

Deno.test("resolveTarget() takes the port from --port, then gateway.port, then GatewayHostName, then 8883", async () => {
  await using dir = await tempDir("target");
  const withPort = `connectionString: "${cs(KEY, "gw.local:2002")}"\n`;
  const withoutPort = `connectionString: "${cs(KEY, "gw.local")}"\n`;
  const configPort = "gateway:\n  caCert: /ca.pem\n  port: 1001\n";
  const ca = "gateway:\n  caCert: /ca.pem\n";
  assert.equal((await target(dir.path, withPort + configPort, { port: 3003 })).port, 3003);
  assert.equal((await target(dir.path, withPort + configPort)).port, 1001);
  assert.equal((await target(dir.path, withPort + ca)).port, 2002);
  assert.equal((await target(dir.path, withoutPort + ca)).port, 8883);
});

Deno.test("resolveTarget() verifies GatewayHostName and dials gateway.address", async () => {
  await using dir = await tempDir("target");
  const t = await target(
    dir.path,
    yaml(
      `connectionString: "${cs(KEY, "gw.local:2002")}"`,
      "gateway:",
      "  caCert: /ca.pem",
      "  address: 192.0.2.7",
    ),
  );
  assert.equal(t.host, "gw.local");
  assert.equal(t.address, "192.0.2.7");
  assert.equal(t.caFile, "/ca.pem");
  assert.equal(t.cs.hostName, "hub.azure-devices.net");
  assert.equal(t.x509, undefined);
});

Deno.test("resolveTarget() names IOTEDGE_ROOT_CA_CERT_PATH when no CA is set", async () => {
  await using dir = await tempDir("target");
  const error = await rejects(target(dir.path, `connectionString: "${cs(KEY)}"\n`));
  assert.equal(error.message, "No gateway root CA file");
  assert.match(error.hint ?? "", /IOTEDGE_ROOT_CA_CERT_PATH/);
  assert.match(error.hint ?? "", /gateway\.caCert/);
  assert.match(error.hint ?? "", /--ca/);
});

Deno.test("resolveTarget() takes the CA from IOTEDGE_ROOT_CA_CERT_PATH", async () => {
  await using dir = await tempDir("target");
  const t = await target(dir.path, `connectionString: "${cs(KEY)}"\n`, {}, {
    IOTEDGE_ROOT_CA_CERT_PATH: "/env/ca.pem",
  });
  assert.equal(t.caFile, "/env/ca.pem");
});

Deno.test("resolveTarget() rejects x509=true without a device certificate", async () => {
  await using dir = await tempDir("target");
  const error = await rejects(
    target(dir.path, yaml(`connectionString: "${X509_CS}"`, "gateway:", "  caCert: /ca.pem")),
  );
  assert.equal(
    error.message,
    "The connection string says x509=true but no device certificate is configured",
  );
  assert.match(error.hint ?? "", /auth\.x509\.cert/);
  assert.match(error.hint ?? "", /--cert and --key/);
});

Deno.test("resolveTarget() uses auth.x509 for x509=true", async () => {
  await using dir = await tempDir("target");
  const text = yaml(
    `connectionString: "${X509_CS}"`,
    "gateway:",
    "  caCert: /ca.pem",
    "auth:",
    "  x509:",
    "    cert: /d.pem",
    "    key: /d.key",
  );
  assert.deepEqual((await target(dir.path, text)).x509, { cert: "/d.pem", key: "/d.key" });
  const flagged = await target(
    dir.path,
    yaml(`connectionString: "${X509_CS}"`, "gateway:", "  caCert: /ca.pem"),
    { cert: "/f.pem", key: "/f.key" },
  );
  assert.deepEqual(flagged.x509, { cert: "/f.pem", key: "/f.key" });
});

Deno.test("resolveTarget() rejects auth.x509 with a shared access key", async () => {
  await using dir = await tempDir("target");
  const error = await rejects(target(
    dir.path,
    yaml(
      `connectionString: "${cs(KEY)}"`,
      "gateway:",
      "  caCert: /ca.pem",
      "auth:",
      "  x509: { cert: /d.pem, key: /d.key }",
    ),
  ));
  assert.equal(
    error.message,
    "auth.x509 is set but the connection string uses a shared access key",
  );
  assert.match(error.hint ?? "", /x509=true/);
});

Deno.test("resolveTarget() rejects an invalid connection string from a flag without echoing the key", async () => {
  await using dir = await tempDir("target");
  const error = await rejects(target(dir.path, "gateway:\n  caCert: /ca.pem\n", {
    connectionString: `HostName=hub.azure-devices.net;DeviceId=pi-01;SharedAccesKey=${FLAG_KEY}`,
  }));
  assert.match(error.message, /^Invalid connection string: /);
});

Deno.test("parseConfigText() points a key missing from auth.x509 at the x509 line", async () => {
  const error = await rejects(configWith(yaml("auth:", "  x509:", "    cert: /d.pem")));
  assert.equal(error.message, "leaf.yaml:2: auth.x509.key: is required");
});

Deno.test("loadConfig() resolves relative paths in the file against the file's folder", async () => {
  await using dir = await tempDir("load");
  const file = await write(
    dir.path,
    "leaf.yaml",
    "gateway:\n  caCert: certs/root.pem\nstateDir: state\nconnectionStringFile: cs.txt\n",
  );
  const { config } = await loadConfig({ config: file }, NO_ENV);
  assert.equal(config.gateway.caCert, `${dir.path}/certs/root.pem`);
  assert.equal(config.stateDir, `${dir.path}/state`);
  assert.equal(config.connectionStringFile, `${dir.path}/cs.txt`);
  const flagged = await loadConfig({ config: file, ca: "rel/ca.pem" }, NO_ENV);
  assert.equal(
    flagged.config.gateway.caCert,
    "rel/ca.pem",
    "a flag stays relative to the working directory",
  );
});

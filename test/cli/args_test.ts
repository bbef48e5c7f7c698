import assert from "node:assert/strict";
import {
  configFlags,
  CONNECTION_HELP,
  CONNECTION_OPTIONS,
  intFlag,
  parse,
  unexpectedArgument,
} from "../../lib/cli/_args.ts";
import { parseMessageFlag, parseProperties } from "../../lib/cli/send.ts";
import { UsageError } from "../../lib/errors.ts";

/** Runs `fn`, asserts a UsageError (exit 2) and returns it. */
function usageError(fn: () => unknown): UsageError {
  let error: unknown;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  assert.ok(error instanceof UsageError, `expected a UsageError, got ${error}`);
  assert.equal(error.exitCode, 2);
  assert.equal(error.code, "usage");
  return error;
}

const OPTIONS = {
  ...CONNECTION_OPTIONS,
  count: { type: "string" },
  quiet: { type: "boolean" },
  property: { type: "string", multiple: true },
} as const;

// --------------------------------------------------------------------- parse

Deno.test("parse() reads strings, booleans and repeated flags", () => {
  const { values } = parse("send", [
    "--count",
    "3",
    "--quiet",
    "--property",
    "a=1",
    "--property=b=2",
    "--connection-string",
    "HostName=h",
  ], OPTIONS);
  assert.equal(values.count, "3");
  assert.equal(values.quiet, true);
  assert.deepEqual(values.property, ["a=1", "b=2"]);
  assert.equal(values["connection-string"], "HostName=h");
});

Deno.test("parse() reads -h as help", () => {
  assert.equal(parse("send", ["-h"], OPTIONS).values.help, true);
});

Deno.test("parse() names an unknown option and the command (exit 2)", () => {
  const error = usageError(() => parse("send", ["--count", "1", "--bogus"], OPTIONS));
  assert.equal(error.message, 'Unknown option "--bogus" for `leaf send`');
  assert.equal(error.hint, "run `leaf send --help`");
  const short = usageError(() => parse("check", ["-x"], OPTIONS));
  assert.equal(short.message, 'Unknown option "-x" for `leaf check`');
});

Deno.test("parse() rejects a positional argument unless allowed", () => {
  const error = usageError(() => parse("send", ["extra"], OPTIONS));
  assert.equal(error.message, 'Unexpected argument "extra" for `leaf send`');
  assert.deepEqual(parse("ca", ["install"], OPTIONS, true).positionals, ["install"]);
});

Deno.test("parse() turns a missing value into one line naming the option, no prefix", () => {
  for (const args of [["--port"], ["--connection-string", "--count", "3"]]) {
    const error = usageError(() => parse("send", args, OPTIONS));
    assert.equal(error.message, `${args[0]} needs a value`);
    assert.equal(error.hint, "run `leaf send --help`");
    assert.equal(error.oneLine(), `${args[0]} needs a value: run \`leaf send --help\``);
  }
});

Deno.test("parse() rejects a value given to a boolean flag", () => {
  const error = usageError(() => parse("send", ["--quiet=yes"], OPTIONS));
  assert.equal(error.message, "--quiet does not take a value");
  assert.ok(!error.message.includes("yes"));
});

Deno.test("parse() passes a negative number to the flag instead of calling it missing", () => {
  assert.equal(parse("send", ["--count", "-1"], OPTIONS).values.count, "-1");
  assert.equal(parse("send", ["--count", "-0.5", "--quiet"], OPTIONS).values.count, "-0.5");
  const error = usageError(() =>
    intFlag("count", parse("send", ["--count", "-1"], OPTIONS).values.count, { min: 1 })
  );
  assert.match(error.message, /^--count "-1" is not a whole number from 1 to /);
  // Only values that look like numbers: a flag after a flag is still a missing value.
  assert.equal(
    usageError(() => parse("send", ["--count", "-h"], OPTIONS)).message,
    "--count needs a value",
  );
  assert.deepEqual(parse("ca", ["--", "--count", "-1"], OPTIONS, true).positionals, [
    "--count",
    "-1",
  ]);
});

// ------------------------------------------------------------ secrets in usage

const KEY = btoa("leaf-test-key-do-not-leak-0123456");
const CS = `HostName=hub.example.net;DeviceId=pi-01;SharedAccessKey=${KEY};GatewayHostName=gw`;

Deno.test("parse() names a positional that may be a secret by its position, never its value", () => {
  const error = usageError(() => parse("send", ["--quiet", CS], OPTIONS));
  assert.equal(
    error.message,
    "Unexpected argument 2 (not shown: it may hold a secret) for `leaf send`",
  );
  assert.match(error.hint ?? "", /--connection-string.*IOTHUB_DEVICE_CONNECTION_STRING.*`ps`/);
  assert.ok(!error.oneLine().includes(KEY));
  const bare = usageError(() => parse("send", [KEY], OPTIONS));
  assert.ok(!bare.oneLine().includes(KEY), bare.oneLine());
  assert.match(bare.message, /^Unexpected argument 1 \(not shown/);
});

Deno.test("unexpectedArgument() suggests --connection-string only where it is accepted", () => {
  assert.equal(
    unexpectedArgument("gateway", [CS], CS).oneLine(),
    "Unexpected argument 1 (not shown: it may hold a secret) for `leaf gateway`: run `leaf gateway --help`",
  );
  assert.equal(
    unexpectedArgument("gateway", ["x", "extra"], "extra").message,
    'Unexpected argument "extra" for `leaf gateway`',
  );
});

Deno.test("intFlag() does not echo a value that may be a secret", () => {
  const error = usageError(() => intFlag("count", CS, { min: 1, max: 10 }));
  assert.equal(
    error.message,
    "--count value (not shown: it may hold a secret) is not a whole number from 1 to 10",
  );
});

Deno.test("intFlag() words the range with `what` and adds the hint", () => {
  const error = usageError(() =>
    intFlag("port", "99999", { min: 0, max: 65535, what: "a port number", hint: "use 0-65535" })
  );
  assert.equal(error.oneLine(), '--port "99999" is not a port number from 0 to 65535: use 0-65535');
});

Deno.test("CONNECTION_HELP says the environment or a config file keeps the key out of ps", () => {
  assert.match(
    CONNECTION_HELP,
    /IOTHUB_DEVICE_CONNECTION_STRING[\s\S]*config file keeps the key out of `ps`/,
  );
});

// ------------------------------------------------------------------- intFlag

Deno.test("intFlag() returns undefined when the flag is absent", () => {
  assert.equal(intFlag("count", undefined), undefined);
});

Deno.test("intFlag() reads whole numbers within the bounds, inclusive", () => {
  assert.equal(intFlag("count", "0"), 0);
  assert.equal(intFlag("count", "42"), 42);
  assert.equal(intFlag("port", "1", { min: 1, max: 65535 }), 1);
  assert.equal(intFlag("port", "65535", { min: 1, max: 65535 }), 65535);
  assert.equal(intFlag("port", "08883", { min: 1, max: 65535 }), 8883);
});

Deno.test("intFlag() rejects values out of bounds or not whole numbers, naming the flag", () => {
  const cases: [string, { min?: number; max?: number }][] = [
    ["0", { min: 1, max: 65535 }],
    ["65536", { min: 1, max: 65535 }],
    ["-1", {}],
    ["1.5", {}],
    ["1e3", {}],
    ["0x10", {}],
    ["", {}],
    ["ten", {}],
    ["99999999999999999999", {}],
  ];
  for (const [value, bounds] of cases) {
    const error = usageError(() => intFlag("port", value, bounds));
    const min = bounds.min ?? 0;
    const max = bounds.max ?? Number.MAX_SAFE_INTEGER;
    assert.equal(
      error.message,
      `--port "${value}" is not a whole number from ${min} to ${max}`,
      value,
    );
  }
});

// --------------------------------------------------------------- configFlags

Deno.test("configFlags() maps connection options to ConfigFlags", () => {
  const { values } = parse("send", [
    "--config",
    "/etc/leaf/leaf.yaml",
    "--connection-string",
    "HostName=h",
    "--ca",
    "/ca.pem",
    "--port",
    "8884",
    "--cert",
    "/d.pem",
    "--key",
    "/d.key",
  ], OPTIONS);
  assert.deepEqual(configFlags(values), {
    config: "/etc/leaf/leaf.yaml",
    connectionString: "HostName=h",
    ca: "/ca.pem",
    port: 8884,
    cert: "/d.pem",
    key: "/d.key",
  });
  assert.deepEqual(configFlags({}), {});
});

Deno.test("configFlags() rejects a port outside 1-65535", () => {
  const error = usageError(() => configFlags({ port: "0" }));
  assert.equal(error.message, '--port "0" is not a whole number from 1 to 65535');
});

// ----------------------------------------------------------- parseProperties

Deno.test("parseProperties() reads KEY=VALUE pairs, keeping = in values", () => {
  assert.deepEqual(parseProperties(["sensor=cpu", "expr=a=b", "empty="]), {
    sensor: "cpu",
    expr: "a=b",
    empty: "",
  });
  assert.deepEqual(parseProperties(), {});
});

Deno.test("parseProperties() rejects a system property name", () => {
  for (const flag of ["$.mid=x", "$.ct=text/plain", "$foo=1"]) {
    const error = usageError(() => parseProperties([flag]));
    assert.match(error.message, /is a system property name$/, flag);
    assert.match(error.hint ?? "", /\$\.mid/);
  }
});

Deno.test("parseProperties() rejects a flag without a key or =", () => {
  for (
    const [flag, shown] of [["novalue", '"novalue"'], [
      "=value",
      "value (not shown: it may hold a secret)",
    ], [
      "",
      '""',
    ]]
  ) {
    const error = usageError(() => parseProperties([flag]));
    assert.equal(error.message, `--property ${shown} is not KEY=VALUE`);
    assert.equal(error.hint, "write e.g. --property sensor=cpu");
  }
});

Deno.test("parseProperties() rejects a key given twice", () => {
  const error = usageError(() => parseProperties(["a=1", "b=2", "a=3"]));
  assert.equal(error.message, '--property "a" is given twice');
});

Deno.test("parseProperties() is not fooled by keys named like Object.prototype members", () => {
  assert.deepEqual(parseProperties(["constructor=1", "toString=2"]), {
    constructor: "1",
    toString: "2",
  });
});

// ---------------------------------------------------------- parseMessageFlag

Deno.test("parseMessageFlag() returns undefined without --message", () => {
  assert.equal(parseMessageFlag(undefined), undefined);
});

Deno.test("parseMessageFlag() keeps a JSON object as the body template", () => {
  assert.deepEqual(parseMessageFlag('{"temperature": 21.5, "tags": ["a"]}'), {
    temperature: 21.5,
    tags: ["a"],
  });
});

Deno.test("parseMessageFlag() wraps JSON that is not an object in {value}", () => {
  const cases: [string, unknown][] = [
    ["21.5", 21.5],
    ['"hello"', "hello"],
    ["[1,2]", [1, 2]],
    ["null", null],
    ["true", true],
  ];
  for (const [text, value] of cases) assert.deepEqual(parseMessageFlag(text), { value }, text);
});

Deno.test("parseMessageFlag() rejects text that is not JSON (exit 2) with a quoting hint", () => {
  for (const text of ["{temperature: 21.5}", "hello", "", "{"]) {
    const error = usageError(() => parseMessageFlag(text));
    assert.match(error.message, /^--message is not JSON \(/, text);
    assert.match(error.hint ?? "", /--message '\{"temperature": 21\.5\}'/);
  }
});

Deno.test("deno task leaf runs the source with the V8 flags the binary ships with", async () => {
  const { V8_FLAGS_ARG } = await import("../../lib/v8_flags.ts");
  const config = JSON.parse(await Deno.readTextFile(new URL("../../deno.json", import.meta.url)));
  assert.ok(
    String(config.tasks.leaf.command).includes(` ${V8_FLAGS_ARG} `),
    config.tasks.leaf.command,
  );
});

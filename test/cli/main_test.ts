/**
 * The entry point's own contract (CLI.md): usage on stderr for exit 2 and on
 * stdout for `--help`, one `leaf:` line per error, and no secret in any usage
 * error, whatever argument a connection string or key was pasted into.
 */
import assert from "node:assert/strict";
import { report } from "../../main.ts";
import { ConfigError } from "../../lib/errors.ts";
import { type LeafResult, runLeaf } from "../_helpers.ts";

const KEY = btoa("leaf-test-key-do-not-leak-0123456");
const CS =
  `HostName=hub.example.net;DeviceId=pi-01;SharedAccessKey=${KEY};GatewayHostName=gw.local`;

/** Asserts exit 2, one `leaf:` line on stderr matching `pattern`, nothing on stdout, no key. */
function assertUsageLine(result: LeafResult, pattern: RegExp): void {
  assert.equal(result.code, 2, result.stderr);
  const lines = result.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, result.stderr);
  assert.match(lines[0], /^leaf: /);
  assert.doesNotMatch(lines[0], /^leaf: leaf /, "no double prefix");
  assert.match(lines[0], pattern);
  assert.equal(result.stdout, "");
  assert.ok(!(result.stdout + result.stderr).includes(KEY), `the key appears:\n${result.stderr}`);
  assert.ok(!(result.stdout + result.stderr).includes("SharedAccessKey="), result.stderr);
}

Deno.test("leaf without arguments prints the usage on stderr and exits 2", async () => {
  const result = await runLeaf([]);
  assert.equal(result.code, 2);
  assert.equal(result.stdout, "");
  assert.match(result.stderr, /^Usage: leaf <command> \[options\]/);
  assert.match(result.stderr, /\n {2}send {2,}/);
});

Deno.test("leaf --help prints the usage on stdout and exits 0", async () => {
  for (const flag of ["--help", "-h", "help"]) {
    const result = await runLeaf([flag]);
    assert.equal(result.code, 0, flag);
    assert.equal(result.stderr, "", flag);
    assert.match(result.stdout, /^Usage: leaf <command> \[options\]/, flag);
  }
});

Deno.test("leaf names an unknown command on one leaf: line (exit 2)", async () => {
  assertUsageLine(
    await runLeaf(["sned"]),
    /^leaf: Unknown command "sned": run `leaf --help` for the list$/,
  );
});

// Each case pastes the connection string (or the bare key) where leaf does not expect it.
const SECRET_CASES: [string, string[], RegExp][] = [
  [
    "as the command",
    [CS],
    /^leaf: Unknown command in argument 1 \(not shown: it may hold a secret\)/,
  ],
  ["as the command (bare key)", [KEY], /^leaf: Unknown command in argument 1 \(not shown/],
  [
    "after leaf send",
    ["send", CS],
    /^leaf: Unexpected argument 1 \(not shown: it may hold a secret\) for `leaf send`: pass the connection string with --connection-string/,
  ],
  [
    "as the value of leaf send --count",
    ["send", "--count", CS],
    /^leaf: --count value \(not shown: it may hold a secret\) is not a whole number from 1 to/,
  ],
  [
    "as the value of leaf send --port",
    ["send", "--port", CS],
    /^leaf: --port value \(not shown: it may hold a secret\) is not a whole number from 1 to 65535/,
  ],
  [
    "after leaf check",
    ["check", "--json", CS],
    /^leaf: Unexpected argument 2 \(not shown: it may hold a secret\) for `leaf check`/,
  ],
  [
    "as the subcommand of leaf config",
    ["config", CS],
    /^leaf: Unknown subcommand in argument 1 \(not shown: it may hold a secret\)/,
  ],
  [
    "after leaf config check",
    ["config", "check", CS],
    /^leaf: Unexpected argument 2 \(not shown: it may hold a secret\) for `leaf config check`/,
  ],
  [
    "as the value of leaf gateway --port",
    ["gateway", "--certs", "x", "--port", CS],
    /^leaf: --port value \(not shown: it may hold a secret\) is not a port number from 0 to 65535/,
  ],
  [
    "as a leaf gateway --device spec",
    ["gateway", "--certs", "x", "--device", CS],
    /^leaf: --device \(not shown: it may hold a secret\) is not ID:KEY/,
  ],
  [
    "after leaf gateway",
    ["gateway", "--certs", "x", CS],
    /^leaf: Unexpected argument 3 \(not shown: it may hold a secret\) for `leaf gateway`/,
  ],
  [
    "as the subcommand of leaf certs",
    ["certs", CS],
    /^leaf: certs: unknown subcommand in argument 1 \(not shown: it may hold a secret\)/,
  ],
  [
    "as the value of leaf certs create --days",
    ["certs", "create", "--hostname", "gw", "--out", "/nonexistent/leaf", "--days", CS],
    /^leaf: --days value \(not shown: it may hold a secret\) is not a whole number from 1 to 36500/,
  ],
  [
    "after leaf certs device",
    ["certs", "device", CS],
    /^leaf: Unexpected argument 1 \(not shown: it may hold a secret\) for `leaf certs device`/,
  ],
];

for (const [where, args, pattern] of SECRET_CASES) {
  Deno.test(`leaf never echoes a connection string pasted ${where}`, async () => {
    assertUsageLine(await runLeaf(args), pattern);
  });
}

Deno.test("leaf says which flag needs a value, once prefixed", async () => {
  assertUsageLine(
    await runLeaf(["send", "--connection-string"]),
    /^leaf: --connection-string needs a value: run `leaf send --help`$/,
  );
});

Deno.test("leaf send --help says the environment keeps the key out of ps", async () => {
  const result = await runLeaf(["send", "--help"]);
  assert.equal(result.code, 0);
  assert.match(result.stdout, /IOTHUB_DEVICE_CONNECTION_STRING[\s\S]*keeps the key out of `ps`/);
});

/** Runs `fn` with console.error captured. */
function captureStderr(fn: () => number): { code: number; lines: string[] } {
  const lines: string[] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => void lines.push(args.map(String).join(" "));
  try {
    return { code: fn(), lines };
  } finally {
    console.error = original;
  }
}

Deno.test("report() masks a key, token or private key in the line it prints", () => {
  const token = "SharedAccessSignature sr=hub%2Fdevices%2Fpi-01&sig=c2lnbmF0dXJl&se=1900000000";
  const { code, lines } = captureStderr(() =>
    report(new ConfigError(`Bad value "${CS}" next to "${token}"`, { hint: "fix it" }), false)
  );
  assert.equal(code, 2);
  assert.equal(lines.length, 1);
  assert.ok(!lines[0].includes(KEY), lines[0]);
  assert.ok(!lines[0].includes("c2lnbmF0dXJl"), lines[0]);
  assert.match(lines[0], /^leaf: Bad value ".*SharedAccessKey=\[redacted\];.*": fix it$/);
});

Deno.test("report() masks secrets in an internal error and its --debug dump too", () => {
  const bug = new Error(`oops with ${CS}`);
  const plain = captureStderr(() => report(bug, false));
  assert.equal(plain.code, 1);
  assert.match(plain.lines[0], /^leaf: internal error \(a bug, please report it\): oops with /);
  const debug = captureStderr(() => report(bug, true));
  for (const line of [...plain.lines, ...debug.lines]) assert.ok(!line.includes(KEY), line);
});

Deno.test("report() turns a permission Deno denied into one usage line, exit 2", () => {
  const denied = new Deno.errors.NotCapable(
    'Requires net access to "unix:\0leaf-notify/1", run again with the --allow-net flag',
  );
  const { code, lines } = captureStderr(() => report(denied, false));
  assert.equal(code, 2);
  assert.equal(lines.length, 1, lines.join("\n"));
  assert.match(
    lines[0],
    /^leaf: Requires net access to .*: run the compiled binary, or from source/,
  );
  assert.doesNotMatch(lines[0], /internal error|--allow-net/);
});

/**
 * `leaf outbox status`: through the real entry point as a subprocess (once
 * main.ts dispatches `outbox`), and through the command's `main()` directly.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { formatAge, formatBytes, main } from "../../lib/cli/outbox.ts";
import { LeafError } from "../../lib/errors.ts";
import { openOutbox } from "../../lib/outbox/outbox.ts";
import { runLeaf, tempDir } from "../_helpers.ts";
import { message, quiet } from "../outbox/_util.ts";

/** Runs `main(args)` with console.log captured. */
async function status(args: string[]): Promise<{ code: number; out: string }> {
  const lines: string[] = [];
  const log = console.log;
  console.log = (...parts: unknown[]) => lines.push(parts.join(" "));
  try {
    return { code: await main(args), out: lines.join("\n") };
  } finally {
    console.log = log;
  }
}

/** An outbox in `dir` with three messages created `ageMs` ago and one dropped. */
function seed(dir: string, ageMs: number): void {
  using outbox = openOutbox({ stateDir: dir, log: quiet, maxBytes: 300 });
  const created = Date.now() - ageMs;
  for (let i = 0; i < 4; i++) outbox.append(created, message);
}

Deno.test({
  name: "leaf outbox status prints depth, age, next seq and drops via the real entry point",
  async fn() {
    await using dir = await tempDir("cli-outbox");
    seed(dir.path, 192_500);
    const text = await runLeaf(["outbox", "status", "--state-dir", dir.path]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /queued +\d+ messages?, \d+ B/);
    assert.match(text.stdout, /oldest +3m1[23]s ago/);
    const json = await runLeaf(["outbox", "status", "--state-dir", dir.path, "--json"]);
    assert.equal(json.code, 0, json.stderr);
    assert.equal(JSON.parse(json.stdout).nextSeq, 5);
    const bad = await runLeaf(["outbox", "frobnicate"]);
    assert.equal(bad.code, 2);
    assert.equal(bad.stderr.trim().split("\n").length, 1);
  },
});

Deno.test("leaf outbox status says there is no outbox yet, with zeros, exit 0", async () => {
  await using dir = await tempDir("cli-outbox");
  const path = join(dir.path, "outbox.db");
  const text = await status(["status", "--state-dir", dir.path]);
  assert.equal(text.code, 0);
  assert.equal(text.out.split("\n")[0], `No outbox yet at ${path}`);
  assert.match(text.out, /queued +0 messages, 0 B/);
  assert.match(text.out, /dropped +0 messages, 0 B/);
  const json = await status(["status", "--state-dir", dir.path, "--json"]);
  assert.deepEqual(JSON.parse(json.out), {
    path,
    exists: false,
    depth: 0,
    bytes: 0,
    oldestCreated: null,
    oldestAgeMs: null,
    nextSeq: 1,
    dropped: 0,
    droppedBytes: 0,
  });
  assert.match(text.out, /next seq +1$/m);
  assert.deepEqual([...Deno.readDirSync(dir.path)], [], "status creates nothing");
});

Deno.test("leaf outbox status without a database starts next seq above the seq reserve", async () => {
  await using dir = await tempDir("cli-outbox");
  await Deno.writeTextFile(join(dir.path, "seq.reserve"), "20001\n");
  const json = JSON.parse((await status(["status", "--state-dir", dir.path, "--json"])).out);
  assert.deepEqual([json.exists, json.nextSeq], [false, 20_001]);
  using outbox = openOutbox({ stateDir: dir.path, log: quiet });
  assert.equal(outbox.append(Date.now(), message).seq, 20_001, "what leaf run then hands out");
});

Deno.test("leaf outbox status reports queued, oldest age, next seq and dropped", async () => {
  await using dir = await tempDir("cli-outbox");
  seed(dir.path, 192_500);
  const text = await status(["status", "--state-dir", dir.path]);
  assert.equal(text.code, 0);
  const json = JSON.parse((await status(["status", "--state-dir", dir.path, "--json"])).out);
  assert.ok(json.exists);
  assert.ok(json.dropped >= 1 && json.depth === 4 - json.dropped, JSON.stringify(json));
  assert.equal(json.nextSeq, 5);
  assert.ok(json.oldestAgeMs >= 192_500 && json.oldestAgeMs < 200_000);
  assert.equal(text.out.split("\n")[0], `Outbox ${join(dir.path, "outbox.db")}`);
  assert.match(text.out, new RegExp(`queued +${json.depth} messages?, ${json.bytes} B`));
  assert.match(text.out, /oldest +3m1[2-9]s ago/);
  assert.match(text.out, /next seq +5/);
  assert.match(text.out, new RegExp(`dropped +${json.dropped} messages?, ${json.droppedBytes} B`));
  using outbox = openOutbox({ stateDir: dir.path, log: quiet });
  assert.equal(outbox.append(Date.now(), message).seq, 5, "the agent starts normally afterwards");
});

Deno.test("leaf outbox status reads beside a running writer without disturbing it", async () => {
  await using dir = await tempDir("cli-outbox");
  using outbox = openOutbox({ stateDir: dir.path, log: quiet, commitInterval: 60_000 });
  for (let i = 0; i < 3; i++) outbox.append(Date.now(), message);
  outbox.commit();
  outbox.append(Date.now(), message); // in the open batch
  const json = JSON.parse((await status(["status", "--state-dir", dir.path, "--json"])).out);
  assert.deepEqual([json.depth, json.nextSeq], [3, 4], "the last commit's counters");
  outbox.append(Date.now(), message);
  outbox.commit();
  assert.equal(outbox.peek(0, 10).length, 5, "the writer carries on");
  const after = JSON.parse((await status(["status", "--state-dir", dir.path, "--json"])).out);
  assert.equal(after.depth, 5);
});

Deno.test("leaf outbox status takes stateDir from --config", async () => {
  await using dir = await tempDir("cli-outbox");
  const stateDir = join(dir.path, "state");
  seed(stateDir, 0);
  const config = join(dir.path, "leaf.yaml");
  await Deno.writeTextFile(config, `stateDir: ${stateDir}\n`);
  const json = JSON.parse((await status(["status", "--config", config, "--json"])).out);
  assert.equal(json.path, join(stateDir, "outbox.db"));
  assert.equal(json.nextSeq, 5);
});

Deno.test("leaf outbox status fails with exit 2 on an unreadable database and leaves it alone", async () => {
  await using dir = await tempDir("cli-outbox");
  const path = join(dir.path, "outbox.db");
  await Deno.writeTextFile(path, "this is not a database".repeat(100));
  await assert.rejects(
    () => status(["status", "--state-dir", dir.path]),
    (e) =>
      e instanceof LeafError && e.exitCode === 2 &&
      e.oneLine() ===
        `Cannot read outbox database "${path}": file is not a database: \`leaf run\` moves an unreadable database aside and starts a new one`,
  );
  assert.deepEqual([...Deno.readDirSync(dir.path)].map((e) => e.name), ["outbox.db"]);
});

Deno.test("leaf outbox rejects a missing or unknown subcommand as usage (exit 2)", async () => {
  for (const args of [[], ["frobnicate"], ["status", "extra"], ["status", "--bogus"]]) {
    await assert.rejects(() => status(args), (e) => e instanceof LeafError && e.exitCode === 2);
  }
  assert.match((await status(["--help"])).out, /^Usage: leaf outbox status/);
});

Deno.test("formatAge() and formatBytes() print for people", () => {
  const ages: [number, string][] = [
    [0, "0s"],
    [59_999, "59s"],
    [192_000, "3m12s"],
    [3_600_000 + 5 * 60_000, "1h05m"],
    [3 * 86_400_000 + 4 * 3_600_000, "3d04h"],
  ];
  for (const [ms, text] of ages) assert.equal(formatAge(ms), text);
  const sizes: [number, string][] = [[0, "0 B"], [1023, "1023 B"], [250_982, "245.1 KiB"], [
    64 * 1024 * 1024,
    "64.0 MiB",
  ]];
  for (const [bytes, text] of sizes) assert.equal(formatBytes(bytes), text);
});

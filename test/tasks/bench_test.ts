/**
 * `deno task bench`: the summary maths and tables without any service, and
 * `--quick` end to end (Mosquitto, Node with the official SDK, GNU time) so
 * the harness keeps working. The figures themselves are not asserted: they
 * depend on the machine.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import type { Kind, Sample } from "../../tasks/_bench/contenders.ts";
import { parseTimeReport } from "../../tasks/_bench/proc.ts";
import { indexSamples, median, ratioOf, spread } from "../../tasks/_bench/stats.ts";
import { cell, contenderTable, refsOf, targetTable } from "../../tasks/_bench/table.ts";
import { evaluateTargets } from "../../tasks/_bench/targets.ts";
import { roundOrder } from "../../tasks/_bench/plan.ts";
import { ROOT, tempDir } from "../_helpers.ts";

const PLAN = { mid: 2000, big: 20_000, backlog: 100_000 };

function sample(key: string, round: number, fields: Partial<Sample> = {}): Sample {
  const [, kind, n] = /^(.*)-(\d+)$/.exec(key)!;
  return {
    round,
    key,
    kind: kind as Kind,
    n: Number(n),
    wallMs: 1000,
    maxRssKiB: 100 * 1024,
    userS: 0.5,
    sysS: 0.1,
    firstAckMs: 300,
    arrivals: Number(n),
    ...fields,
  };
}

Deno.test("median() and spread() summarise over rounds and skip missing values", () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 2, 3]), 2.5);
  assert.deepEqual(spread([5, undefined, 1, NaN, 3]), { median: 3, min: 1, max: 5, count: 3 });
  assert.equal(spread([undefined]), undefined);
});

Deno.test("ratioOf() divides within each round before summarising", () => {
  const index = indexSamples([
    sample("leaf-send-2000", 1, { wallMs: 400 }),
    sample("sdk-seq-2000", 1, { wallMs: 1000 }),
    sample("leaf-send-2000", 2, { wallMs: 900 }),
    sample("sdk-seq-2000", 2, { wallMs: 1500 }),
    sample("leaf-send-2000", 3, { wallMs: 500 }), // no SDK run in round 3: skipped
  ]);
  assert.deepEqual(ratioOf(index, "leaf-send-2000", "sdk-seq-2000", "wallMs"), {
    median: 0.5,
    min: 0.4,
    max: 0.6,
    count: 2,
  });
  assert.equal(ratioOf(index, "leaf-send-2000", "sdk-all-2000", "wallMs"), undefined);
});

Deno.test("evaluateTargets() marks met, missed and unmeasured targets", () => {
  const index = indexSamples([
    sample("leaf-send-2000", 1, { wallMs: 600, maxRssKiB: 90 * 1024 }),
    sample("sdk-seq-2000", 1, { wallMs: 1000, maxRssKiB: 100 * 1024 }),
    sample("sdk-all-2000", 1, { wallMs: 500 }),
  ]);
  const targets = evaluateTargets(index, PLAN, { appendPerSec: [60_000], idleCpuPct: 0.2 });
  const byId = Object.fromEntries(targets.map((t) => [t.id, t]));
  assert.equal(byId["send-wall-vs-sdk-seq"].met, true); // 0.6 ≤ 0.7
  assert.equal(byId["send-wall-vs-sdk-all"].met, false); // 1.2 > 1.0
  assert.equal(byId["send-rss-vs-sdk"].met, false); // 0.9 > 0.8
  assert.equal(byId["outbox-append"].met, true);
  assert.equal(byId["idle-cpu"].met, true);
  assert.equal(byId["drain-rate-vs-mqttjs"].met, undefined);
  assert.equal(byId["cold-start-bin-vs-sdk"], undefined, "no compiled row without a binary");
  const table = targetTable(targets);
  assert.match(
    table,
    /\| leaf send N=2000: wall time ÷ SDK awaited 1 by 1 \| 0\.60 \| ≤ 0\.7 × \| \*\*met\*\* \|/,
  );
  assert.match(table, /\*\*missed\*\*/);
  assert.match(table, /not measured/);
});

Deno.test("cell() prints median [min–max], and the median alone for one round", () => {
  assert.equal(cell({ median: 0.5, min: 0.4, max: 0.61, count: 3 }), "0.50 [0.40–0.61]");
  assert.equal(
    cell({ median: 12_345.6, min: 12_000, max: 13_000, count: 2 }, 1, 0),
    "12,346 [12,000–13,000]",
  );
  assert.equal(cell({ median: 2, min: 2, max: 2, count: 1 }), "2.00");
  assert.equal(cell(undefined), "–");
});

Deno.test("refsOf() compares the restart run with the SDK sending one message", () => {
  const order = roundOrder(PLAN, false);
  const restart = order.find((c) => c.kind === "leaf-run-restart")!;
  assert.deepEqual(refsOf(restart), { rss: "sdk-seq-1", firstAck: "sdk-seq-1" });
  const send = order.find((c) => c.key === "leaf-send-2000")!;
  assert.deepEqual(refsOf(send), {
    wallSeq: "sdk-seq-2000",
    wallAll: "sdk-all-2000",
    rate: "mqttjs-2000",
    rss: "sdk-seq-2000",
    firstAck: "sdk-seq-2000",
  });
  // Every reference a row names is a contender of the same round.
  const keys = new Set(order.map((c) => c.key));
  for (const c of order) {
    for (const ref of Object.values(refsOf(c))) assert.ok(keys.has(ref), `${c.key} → ${ref}`);
  }
  assert.ok(roundOrder(PLAN, true).some((c) => c.key === "leaf-send-bin-1"));
});

Deno.test("contenderTable() has one row per measured contender", () => {
  const order = roundOrder(PLAN, false);
  const index = indexSamples(order.map((c) => sample(c.key, 1)));
  const lines = contenderTable(index, order, PLAN).split("\n");
  assert.equal(
    lines.filter((l) => /^\| [^-]/.test(l) && !l.startsWith("| Contender")).length,
    order.length,
  );
});

Deno.test("parseTimeReport() reads GNU time's report, also after a signal", () => {
  assert.deepEqual(parseTimeReport("BENCH 0 81234 0.21 0.05\n"), {
    maxRssKiB: 81234,
    userS: 0.21,
    sysS: 0.05,
  });
  assert.equal(
    parseTimeReport("Command terminated by signal 15\nBENCH 0 1000 0.00 0.00\n").maxRssKiB,
    1000,
  );
  assert.throws(() => parseTimeReport(""), /no report/);
});

async function have(cmd: string, args: string[]): Promise<boolean> {
  try {
    await new Deno.Command(cmd, { args, stdout: "null", stderr: "null" }).output();
    return true;
  } catch {
    return false;
  }
}

const TOOLS = await Promise.all([
  have("mosquitto", ["-h"]),
  have("mosquitto_sub", ["--help"]),
  have("node", ["--version"]),
  have("npm", ["--version"]),
  have("/usr/bin/time", ["true"]),
]);

Deno.test({
  name: "deno task bench --quick prints the tables and writes results.json with every sample",
  ignore: TOOLS.includes(false),
  async fn() {
    await using dir = await tempDir("bench");
    const out = join(dir.path, "results.json");
    const result = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "tasks/bench.ts", "--quick", "--idle", "2", "--out", out],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(result.stdout);
    const stderr = new TextDecoder().decode(result.stderr);
    assert.equal(result.code, 0, stderr);
    for (const heading of ["### Targets", "### Contenders", "### Outbox and idle"]) {
      assert.ok(stdout.includes(heading), `${heading} in:\n${stdout}`);
    }
    assert.match(stdout, /\| leaf send, N=1 \| /);
    assert.match(stdout, /\| SDK sendEvent awaited 1 by 1, N=200 \| /);
    assert.match(stdout, /\*\*(met|missed)\*\*/);

    const results = JSON.parse(await Deno.readTextFile(out));
    assert.equal(results.version, 1);
    for (const k of ["cpuModel", "cores", "kernel", "deno", "node", "mosquitto", "date"]) {
      assert.ok(results.machine[k], `machine.${k}`);
    }
    assert.equal(results.machine.sdk["azure-iot-device"], "1.18.4");
    assert.deepEqual(
      results.options,
      { quick: true, rounds: 1, warmup: 0, idleSeconds: 2, mid: 200, big: 1000, backlog: 5000 },
    );
    const keys = new Set(results.samples.map((s: Sample) => s.key));
    for (const c of results.contenders) assert.ok(keys.has(c.key), `a sample of ${c.key}`);
    for (const s of results.samples as Sample[]) {
      assert.ok(s.arrivals >= Math.min(s.n, 1000), `${s.key}: ${s.arrivals} arrivals`);
      assert.ok(s.wallMs > 0 && s.maxRssKiB > 0 && s.firstAckMs > 0, JSON.stringify(s));
    }
    assert.equal(results.outbox.length, 1);
    assert.ok(results.idle.leaf.cpuS >= 0 && results.idle.sdk.rssKiB > 0);
    assert.ok(results.targets.length >= 10);
  },
});

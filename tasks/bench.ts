/**
 * `deno task bench`: leaf side by side with the official Azure IoT device SDK
 * for Node, raw mqtt.js and mosquitto_pub, in one run against one broker
 * (Mosquitto, TLS on loopback, the IoT Edge test chain, `set_tcp_nodelay`).
 * Contenders are interleaved round by round (A B C … A B C) after a warm-up;
 * every figure is the median [min–max] over rounds, and every ratio is taken
 * against the SDK run of the same round. See BENCHMARKS.md.
 *
 * ```sh
 * deno task bench                # 1 warm-up + 5 rounds, N = 1, 2000, 20000; idle 60 s
 * deno task bench --quick        # 1 round, small N, idle 5 s (CI keeps the harness alive)
 * deno task bench --rounds 9 --out /tmp/results.json
 * ```
 *
 * Prints Markdown on stdout, progress on stderr, and writes `bench/results.json`
 * (machine, options, every raw sample, targets). Exit 0 even when targets are
 * missed (it is a report); 2 for bad flags, 3 for missing tools, 1 on failure.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createEdgeTestChain } from "../lib/trust/testchain.ts";
import { benchOutbox } from "./bench_outbox.ts";
import { startBroker } from "./_bench/broker.ts";
import type { RunContext } from "./_bench/contenders.ts";
import { measureIdle } from "./_bench/idle.ts";
import { findLeafBin } from "./_bench/leaf_bin.ts";
import { machineInfo } from "./_bench/machine.ts";
import { FULL, type Plan, QUICK, roundOrder } from "./_bench/plan.ts";
import { killAll, TIME_BIN } from "./_bench/proc.ts";
import { renderReport, type RunResults, writeResults } from "./_bench/report.ts";
import { runContender } from "./_bench/run_contender.ts";
import { ensureSdk } from "./_bench/sdk.ts";
import { indexSamples } from "./_bench/stats.ts";
import { evaluateTargets } from "./_bench/targets.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));

const HELP = `Usage: deno task bench [--quick] [--rounds N] [--warmup N] [--idle S] [--out FILE]

Runs leaf, the official Azure IoT SDK (Node), raw mqtt.js and mosquitto_pub
against one local Mosquitto over TLS, interleaved round by round.

  --quick          1 round, no warm-up, N = 1/200/1000, backlog 5000, idle 5 s
  --rounds N       measured rounds (default 5)
  --warmup N       unrecorded rounds first (default 1)
  --idle S         idle window for leaf run and the SDK, seconds (default 60)
  --out FILE       results file (default bench/results.json)
  --leaf-bin PATH  compiled leaf for the cold-start row (default dist/leaf-<target>)
  --leaf-root DIR  run leaf (send, run) from another checkout, e.g. a branch with a fix

Needs: mosquitto + mosquitto-clients, GNU time (/usr/bin/time), Node.js + npm
(the SDK is installed once into ~/.cache/leaf-bench/sdk).`;

/** Parsed flags. */
interface BenchOptions {
  quick: boolean;
  rounds: number;
  warmup: number;
  idleSeconds: number;
  plan: Plan;
  out: string;
  leafBin?: string;
  leafRoot?: string;
}

/** Parses the flags; a string is the usage error to print. */
function parseOptions(args: string[]): BenchOptions | "help" | string {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        quick: { type: "boolean" },
        rounds: { type: "string" },
        warmup: { type: "string" },
        idle: { type: "string" },
        out: { type: "string" },
        "leaf-bin": { type: "string" },
        "leaf-root": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (error) {
    return `${(error as Error).message}; run \`deno task bench --help\``;
  }
  if (values.help) return "help";
  const size = values.quick ? QUICK : FULL;
  const int = (name: string, text: string | undefined, fallback: number, min: number) => {
    const v = text === undefined ? fallback : Number(text);
    return Number.isInteger(v) && v >= min
      ? v
      : `--${name} "${text}" is not a whole number ≥ ${min}`;
  };
  const rounds = int("rounds", values.rounds, size.rounds, 1);
  const warmup = int("warmup", values.warmup, size.warmup, 0);
  const idleSeconds = int("idle", values.idle, size.idle, 1);
  for (const v of [rounds, warmup, idleSeconds]) if (typeof v === "string") return v;
  return {
    quick: values.quick ?? false,
    rounds: rounds as number,
    warmup: warmup as number,
    idleSeconds: idleSeconds as number,
    plan: { mid: size.mid, big: size.big, backlog: size.backlog },
    out: values.out ?? join(ROOT, "bench", "results.json"),
    ...(values["leaf-bin"] ? { leafBin: values["leaf-bin"] } : {}),
    ...(values["leaf-root"] ? { leafRoot: values["leaf-root"] } : {}),
  };
}

async function missingTools(): Promise<string[]> {
  const missing: string[] = [];
  for (
    const [tool, args] of [
      ["mosquitto", ["-h"]],
      ["mosquitto_sub", ["--help"]],
      ["mosquitto_pub", ["--help"]],
      [TIME_BIN, ["true"]],
      ["node", ["--version"]],
      ["npm", ["--version"]],
    ] as const
  ) {
    try {
      await new Deno.Command(tool, { args: [...args], stdout: "null", stderr: "null" }).output();
    } catch {
      missing.push(tool);
    }
  }
  return missing;
}

/** Runs every round and the idle window against a fresh broker in `work`. */
async function bench(
  o: BenchOptions,
  work: string,
  onCleanup: (f: () => Promise<void>) => void,
): Promise<RunResults> {
  const sdk = await ensureSdk();
  const chain = await createEdgeTestChain({ hostname: "localhost", outDir: join(work, "pki") });
  const broker = await startBroker({
    certFile: chain.server.fullChainPath!,
    keyFile: chain.server.keyPath,
    caFile: chain.pinFile,
    host: "localhost",
    dir: work,
  });
  onCleanup(async () => await broker[Symbol.asyncDispose]());
  const bin = await findLeafBin(ROOT, work, o.leafBin);
  if ("skipped" in bin) console.error(`bench: ${bin.skipped}`);
  const ctx: RunContext = {
    root: ROOT,
    leafRoot: o.leafRoot ?? ROOT,
    work,
    host: "localhost",
    port: broker.port,
    caFile: chain.pinFile,
    observer: broker.observer,
    sdk,
    ...("path" in bin ? { leafBin: bin.path } : {}),
    steadyCount: Math.min(o.plan.big, o.plan.backlog),
  };
  const order = roundOrder(o.plan, "path" in bin);
  const samples: RunResults["samples"] = [];
  const outbox: RunResults["outbox"] = [];
  // Warm-up rounds are numbered 1 − warmup … 0, measured rounds 1 … rounds.
  for (let round = 1 - o.warmup; round <= o.rounds; round++) {
    const warmup = round <= 0;
    const tag = warmup ? `warm-up ${round + o.warmup}/${o.warmup}` : `round ${round}/${o.rounds}`;
    for (const c of order) {
      const s = await runContender(ctx, c, round);
      samples.push({ ...s, warmup });
      console.error(
        `bench: ${tag}  ${c.label.padEnd(40)} wall ${(s.wallMs / 1000).toFixed(2)} s  ` +
          `rss ${(s.maxRssKiB / 1024).toFixed(0)} MiB  1st ${s.firstAckMs.toFixed(0)} ms` +
          (s.perSec ? `  ${Math.round(s.perSec)} msg/s` : ""),
      );
    }
    const dir = join(work, `outbox-bench-${round + o.warmup}`);
    const figures = await benchOutbox({ dir, count: o.plan.backlog });
    await Deno.remove(dir, { recursive: true });
    if (!warmup) outbox.push({ round, ...figures });
  }
  console.error(`bench: idle, ${o.idleSeconds} s (leaf run and the SDK side by side)`);
  const idle = await measureIdle(ctx, o.idleSeconds);
  const index = indexSamples(samples.filter((s) => !s.warmup));
  return {
    machine: await machineInfo(ROOT, sdk),
    options: {
      quick: o.quick,
      rounds: o.rounds,
      warmup: o.warmup,
      idleSeconds: o.idleSeconds,
      ...o.plan,
      ...(o.leafRoot ? { leafRoot: o.leafRoot } : {}),
    },
    compiled: "path" in bin ? "measured" : bin.skipped,
    contenders: order,
    targets: evaluateTargets(index, o.plan, {
      appendPerSec: outbox.map((x) => x.appendPerSec),
      idleCpuPct: idle.leaf.pct,
    }),
    outbox,
    idle,
    samples,
  };
}

async function main(): Promise<number> {
  const o = parseOptions(Deno.args);
  if (o === "help") {
    console.log(HELP);
    return 0;
  }
  if (typeof o === "string") {
    console.error(`bench: ${o}`);
    return 2;
  }
  const missing = await missingTools();
  if (missing.length) {
    console.error(
      `bench: missing ${missing.join(", ")}: install them (Debian: apt-get install mosquitto ` +
        "mosquitto-clients time nodejs npm)",
    );
    return 3;
  }
  const work = await Deno.makeTempDir({ prefix: "leaf-bench-" });
  const cleanups: (() => Promise<void>)[] = [() => Deno.remove(work, { recursive: true })];
  let cleaned = false;
  const cleanup = async () => {
    if (cleaned) return;
    cleaned = true;
    await killAll();
    for (const f of cleanups.reverse()) await f().catch(() => {});
  };
  // Ctrl-C: stop the running contender, the observer and the broker, remove the scratch dir.
  const onSignal = () => {
    console.error("bench: interrupted; stopping contenders and the broker");
    cleanup().finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  try {
    const results = await bench(o, work, (f) => cleanups.push(f));
    const index = indexSamples(results.samples.filter((s) => !s.warmup));
    console.log(renderReport(results, index));
    await writeResults(o.out, results);
    console.error(`bench: wrote ${o.out}`);
    return 0;
  } catch (error) {
    console.error(`bench: ${(error as Error).message}`);
    return 1;
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
    await cleanup();
  }
}

if (import.meta.main) {
  Deno.exit(await main());
}

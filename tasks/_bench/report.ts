/**
 * The two outputs of a run: the Markdown report (stdout) and the results
 * file with every raw sample (`bench/results.json`).
 *
 * @module
 */
import { dirname } from "node:path";
import type { Contender, Sample } from "./contenders.ts";
import type { IdleResult } from "./idle.ts";
import type { MachineInfo } from "./machine.ts";
import type { Plan } from "./plan.ts";
import type { SampleIndex } from "./stats.ts";
import { contenderTable, figuresTable, type OutboxSample, targetTable } from "./table.ts";
import type { TargetResult } from "./targets.ts";

/** Everything a finished run produced. */
export interface RunResults {
  machine: MachineInfo;
  options: Plan & {
    quick: boolean;
    rounds: number;
    warmup: number;
    idleSeconds: number;
    leafRoot?: string;
  };
  /** "measured", or why the compiled binary was not. */
  compiled: string;
  contenders: Contender[];
  targets: TargetResult[];
  outbox: OutboxSample[];
  idle: IdleResult;
  /** Every run, warm-up included (flagged). */
  samples: (Sample & { warmup: boolean })[];
}

/** The Markdown report: machine line, targets, contenders, outbox and idle. */
export function renderReport(r: RunResults, index: SampleIndex): string {
  const m = r.machine;
  const o = r.options;
  return [
    `## leaf bench, ${m.date.slice(0, 10)}${o.quick ? " (--quick)" : ""}`,
    "",
    `${m.cpuModel}, ${m.cores} cores, ${m.memTotalMiB} MiB, Linux ${m.kernel}; ` +
    `Deno ${m.deno}, Node ${m.node}, Mosquitto ${m.mosquitto}, ` +
    `azure-iot-device ${m.sdk["azure-iot-device"]}, mqtt.js ${m.mqttjs}; ` +
    `${o.rounds} round(s) after ${o.warmup} warm-up; leaf ${m.git}` +
    `${o.leafRoot ? ` from ${o.leafRoot}` : ""}; compiled binary: ${r.compiled}.`,
    "",
    "### Targets",
    "",
    targetTable(r.targets),
    "",
    "### Contenders",
    "",
    contenderTable(index, r.contenders, o),
    "",
    "### Outbox and idle",
    "",
    figuresTable(index, o, r.outbox, r.idle),
    "",
  ].join("\n");
}

/** Writes the results file (version 1), creating its directory. */
export async function writeResults(path: string, r: RunResults): Promise<void> {
  await Deno.mkdir(dirname(path), { recursive: true });
  await Deno.writeTextFile(path, JSON.stringify({ version: 1, ...r }, null, 2) + "\n");
}

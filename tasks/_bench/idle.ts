/**
 * Idle cost: CPU seconds `leaf run` uses over a window with its default
 * setup (the `system` sensor every 10 s, status line every 60 s), next to the
 * SDK sending one message every 10 s on an open connection. Both start
 * together; the window opens 2 s after each one's first message arrived, so
 * start-up is not counted. CPU is utime + stime from `/proc/<pid>/stat`.
 *
 * @module
 */
import { join } from "node:path";
import { connectionString, type RunContext } from "./contenders.ts";
import { leafRunConfig, spawnLeafRun } from "./leaf_run.ts";
import { cpuSeconds, rssKiB, spawnTimed } from "./proc.ts";
import { TEMPLATE } from "./payload.ts";

/** CPU use of one process over the window. */
export interface IdleCost {
  cpuS: number;
  /** CPU seconds per wall second × 100: % of one core. */
  pct: number;
  /** VmRSS at the end of the window, KiB. */
  rssKiB: number;
  /** Messages the observer saw during the whole run. */
  messages: number;
}

/** Both processes' cost over the same window. */
export interface IdleResult {
  seconds: number;
  leaf: IdleCost;
  sdk: IdleCost;
}

/** Runs `leaf run` and the SDK side by side for `seconds` and measures both. */
export async function measureIdle(ctx: RunContext, seconds: number): Promise<IdleResult> {
  const leafId = "idle-leaf";
  const sdkId = "idle-sdk";
  const config = await leafRunConfig(ctx, leafId, join(ctx.work, "state-idle"), "10s");
  const leaf = spawnLeafRun(ctx, config, leafId);
  const sdk = spawnTimed({
    cmd: ["node", ctx.sdk.script],
    cwd: ctx.sdk.dir,
    env: {
      BENCH_SPEC: JSON.stringify({
        cs: connectionString(ctx, sdkId),
        caFile: ctx.caFile,
        mode: "idle",
        count: 0,
        intervalMs: 10_000,
        template: TEMPLATE,
      }),
    },
    reportFile: join(ctx.work, `time-${sdkId}.txt`),
  });
  try {
    const procs = [
      { proc: leaf, id: leafId },
      { proc: sdk, id: sdkId },
    ];
    // leaf commits its outbox once a second: its first message may take that long.
    await Promise.all(procs.map((p) => ctx.observer.waitFor(p.id, 1, 30_000)));
    await new Promise((r) => setTimeout(r, 2_000));
    const pids = await Promise.all(procs.map((p) => p.proc.pid()));
    const before = await Promise.all(pids.map((pid) => cpuSeconds(pid)));
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const after = await Promise.all(pids.map((pid) => cpuSeconds(pid)));
    const wall = (performance.now() - t0) / 1000;
    const rss = await Promise.all(pids.map((pid) => rssKiB(pid)));
    const cost = (i: number): IdleCost => ({
      cpuS: Math.round((after[i] - before[i]) * 100) / 100,
      pct: (after[i] - before[i]) / wall * 100,
      rssKiB: rss[i],
      messages: ctx.observer.arrivals(procs[i].id).count,
    });
    return { seconds, leaf: cost(0), sdk: cost(1) };
  } finally {
    await Promise.all([leaf.kill("SIGTERM"), sdk.kill("SIGTERM")]);
    await Promise.all([leaf.done, sdk.done]);
  }
}

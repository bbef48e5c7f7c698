/**
 * `leaf run` as a contender: started with a config that points at the bench
 * broker and a state dir holding a pre-filled outbox, measured by the
 * observer until the backlog (or part of it) arrived, then stopped with
 * SIGTERM (it must exit 0).
 *
 * @module
 */
import { join } from "node:path";
import { V8_FLAGS_ARG } from "../../lib/v8_flags.ts";
import {
  check,
  connectionString,
  type Contender,
  phase,
  RUN_TIMEOUT_MS,
  type RunContext,
  type Sample,
} from "./contenders.ts";
import { prefillOutbox } from "./payload.ts";
import { type Proc, rssKiB, spawnTimed } from "./proc.ts";

/** Writes a `leaf run` config (JSON is YAML) and returns its path. */
export async function leafRunConfig(
  ctx: RunContext,
  deviceId: string,
  stateDir: string,
  sensorInterval: string,
): Promise<string> {
  const file = join(ctx.work, `leaf-${deviceId}.yaml`);
  await Deno.writeTextFile(
    file,
    JSON.stringify({
      connectionString: connectionString(ctx, deviceId),
      gateway: { caCert: ctx.caFile },
      stateDir,
      sensors: [{ type: "system", interval: sensorInterval }],
    }),
  );
  return file;
}

/** Spawns `leaf run` (from source) under time. */
export function spawnLeafRun(ctx: RunContext, config: string, deviceId: string): Proc {
  return spawnTimed({
    cmd: [Deno.execPath(), "run", "-A", V8_FLAGS_ARG, "main.ts", "run", "--config", config],
    cwd: ctx.leafRoot,
    reportFile: join(ctx.work, `time-${deviceId}.txt`),
  });
}

/** ms from spawn to the first log line containing `text`, from its timestamp. */
export function logLineAt(stderr: string, text: string, startedAt: number): number | undefined {
  const line = stderr.split("\n").find((l) => l.includes(text));
  const ts = line ? Date.parse(line.split(" ")[0]) : NaN;
  return Number.isNaN(ts) ? undefined : ts - startedAt;
}

/**
 * `leaf run` with N messages pre-filled in a fresh outbox. `drain`: measured
 * until all N arrived. `restart`: ready time (first arrival), then VmRSS
 * sampled until `steadyCount` arrived.
 */
export async function runLeafRun(
  ctx: RunContext,
  c: Contender,
  round: number,
  deviceId: string,
): Promise<Sample> {
  const stateDir = join(ctx.work, `state-${deviceId}`);
  prefillOutbox(stateDir, c.n);
  // One system reading at start, then none: the backlog is what is measured.
  const config = await leafRunConfig(ctx, deviceId, stateDir, "1h");
  const proc = spawnLeafRun(ctx, config, deviceId);
  let target = c.n;
  const rss: number[] = [];
  try {
    if (c.kind === "leaf-run-restart") {
      target = Math.min(c.n, ctx.steadyCount);
      await ctx.observer.waitFor(deviceId, 1, 60_000);
      const pid = await proc.pid();
      while (ctx.observer.arrivals(deviceId).count < target) {
        rss.push(await rssKiB(pid));
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    await ctx.observer.waitFor(deviceId, target, RUN_TIMEOUT_MS);
  } finally {
    await proc.kill("SIGTERM");
  }
  const r = await proc.done;
  check(r.code === 0, `${c.label} exited with ${r.code} after SIGTERM`, proc);
  const a = ctx.observer.arrivals(deviceId);
  rss.sort((x, y) => x - y);
  const connectedMs = logLineAt(r.stderr, "connected to", r.startedAt);
  return {
    round,
    key: c.key,
    kind: c.kind,
    n: c.n,
    wallMs: a.times[target - 1] - r.startedAt,
    maxRssKiB: r.maxRssKiB,
    userS: r.userS,
    sysS: r.sysS,
    firstAckMs: a.times[0] - r.startedAt,
    ...phase(ctx, deviceId, r.startedAt, a.times, target),
    arrivals: a.count,
    ...(connectedMs !== undefined ? { connectedMs } : {}),
    ...(rss.length ? { steadyRssKiB: rss[Math.floor(rss.length / 2)] } : {}),
  };
}

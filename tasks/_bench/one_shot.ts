/**
 * Contenders that connect, send N messages, wait for every PUBACK and exit:
 * `leaf send` (from source or compiled), the official SDK on Node (awaited
 * one by one, or all in flight), raw mqtt.js under Deno, and mosquitto_pub.
 *
 * @module
 */
import { join } from "node:path";
import { V8_FLAGS_ARG } from "../../lib/v8_flags.ts";
import {
  check,
  connectionString,
  type Contender,
  credentials,
  phase,
  RUN_TIMEOUT_MS,
  type RunContext,
  type Sample,
} from "./contenders.ts";
import { body, mosquittoLines, TEMPLATE } from "./payload.ts";
import { spawnTimed } from "./proc.ts";

/** The argv of a one-shot contender. */
async function oneShot(ctx: RunContext, c: Contender, deviceId: string) {
  const leafArgs = [
    "send",
    ...["--connection-string", connectionString(ctx, deviceId), "--ca", ctx.caFile],
    ...["--count", String(c.n), "--message", JSON.stringify(TEMPLATE)],
  ];
  const spec = (extra: Record<string, unknown>) => ({
    BENCH_SPEC: JSON.stringify({ template: TEMPLATE, count: c.n, ...extra }),
  });
  switch (c.kind) {
    case "leaf-send":
      return {
        cmd: [Deno.execPath(), "run", "-A", V8_FLAGS_ARG, "main.ts", ...leafArgs],
        cwd: ctx.leafRoot,
      };
    case "leaf-send-bin":
      return { cmd: [ctx.leafBin!, ...leafArgs] };
    case "sdk-seq":
    case "sdk-all":
      return {
        cmd: ["node", ctx.sdk.script],
        cwd: ctx.sdk.dir,
        env: spec({
          cs: connectionString(ctx, deviceId),
          caFile: ctx.caFile,
          mode: c.kind === "sdk-seq" ? "seq" : "all",
        }),
      };
    case "mqttjs":
      return {
        cmd: [Deno.execPath(), "run", "-A", "tasks/_bench/mqtt_send.ts"],
        env: spec({
          host: ctx.host,
          port: ctx.port,
          caFile: ctx.caFile,
          deviceId,
          ...await credentials(deviceId, "bench-mqttjs"),
        }),
      };
    case "mosquitto_pub": {
      const { username, password } = await credentials(deviceId, "mosquitto_pub");
      const topic =
        `devices/${deviceId}/messages/events/%24.mid=${crypto.randomUUID()}&%24.ct=application%2Fjson&%24.ce=utf-8`;
      const args = [
        ...["-h", ctx.host, "-p", String(ctx.port), "--cafile", ctx.caFile],
        ...["-i", deviceId, "-u", username, "-P", password, "-V", "mqttv311"],
        ...["-q", "1", "-t", topic],
      ];
      if (c.n === 1) return { cmd: ["mosquitto_pub", ...args, "-m", body(1)] };
      const lines = join(ctx.work, `lines-${c.n}.txt`);
      await Deno.stat(lines).catch(() => Deno.writeTextFile(lines, mosquittoLines(c.n)));
      return {
        // sh only redirects stdin, then execs: time measures mosquitto_pub itself.
        cmd: [
          ...["sh", "-c", 'exec mosquitto_pub "$@" -l < "$BENCH_LINES"', "mosquitto_pub"],
          ...args,
        ],
        env: { BENCH_LINES: lines },
      };
    }
    default:
      throw new Error(`${c.kind} is not a one-shot contender`);
  }
}

/** Runs a one-shot contender (sends N, exits) and measures it. */
export async function runOneShot(
  ctx: RunContext,
  c: Contender,
  round: number,
  deviceId: string,
): Promise<Sample> {
  const { cmd, env, cwd } = await oneShot(ctx, c, deviceId);
  const proc = spawnTimed({
    cmd,
    ...(env ? { env } : {}),
    cwd: cwd ?? ctx.root,
    reportFile: join(ctx.work, `time-${deviceId}.txt`),
  });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const r = await Promise.race([
    proc.done,
    new Promise<never>((_, reject) =>
      timer = setTimeout(() => {
        proc.kill("SIGKILL");
        reject(new Error(`${c.label} took over ${RUN_TIMEOUT_MS / 1000} s`));
      }, RUN_TIMEOUT_MS)
    ),
  ]).finally(() => clearTimeout(timer));
  check(r.code === 0, `${c.label} exited with ${r.code}`, proc);
  const a = await ctx.observer.waitFor(deviceId, c.n, 10_000);
  const sample: Sample = {
    round,
    key: c.key,
    kind: c.kind,
    n: c.n,
    wallMs: r.wallMs,
    maxRssKiB: r.maxRssKiB,
    userS: r.userS,
    sysS: r.sysS,
    firstAckMs: a.times[0] - r.startedAt,
    ...phase(ctx, deviceId, r.startedAt, a.times, c.n),
    arrivals: a.count,
    own: r.stdout.trim().split("\n").pop() ?? "",
  };
  if (c.kind === "mosquitto_pub" && c.n > 1) {
    sample.sendPhaseMs = a.times[c.n - 1] - a.times[0];
    sample.perSec = (c.n - 1) / (sample.sendPhaseMs / 1000);
  }
  return sample;
}

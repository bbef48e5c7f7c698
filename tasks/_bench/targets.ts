/**
 * The targets of issue 7 (and the outbox targets of issue 3), each judged on
 * the median over rounds of a figure measured in the same run. They are
 * fixed: a miss is reported, never relaxed.
 *
 * @module
 */
import type { Plan } from "./plan.ts";
import { ratioOf, type SampleIndex, type Spread, spread, spreadOf } from "./stats.ts";

/** One judged target. */
export interface TargetResult {
  id: string;
  /** What is compared, in words. */
  text: string;
  op: "<=" | ">=";
  limit: number;
  unit: "×" | "ms" | "msg/s" | "%";
  value?: Spread;
  /** Undefined when the figure could not be measured. */
  met?: boolean;
}

/** Figures measured outside the per-contender samples. */
export interface Extra {
  /** In-process outbox append rates, one per round. */
  appendPerSec: number[];
  /** Idle `leaf run` CPU, % of one core. */
  idleCpuPct?: number;
}

/** Evaluates every target from the samples of the measured rounds. */
export function evaluateTargets(
  index: SampleIndex,
  plan: Plan,
  extra: Extra,
): TargetResult[] {
  const { mid, big, backlog } = plan;
  const t = (
    id: string,
    text: string,
    op: "<=" | ">=",
    limit: number,
    unit: TargetResult["unit"],
    value: Spread | undefined,
  ): TargetResult => ({
    id,
    text,
    op,
    limit,
    unit,
    ...(value ? { value, met: op === "<=" ? value.median <= limit : value.median >= limit } : {}),
  });
  const targets = [
    t(
      "send-wall-vs-sdk-seq",
      `leaf send N=${mid}: wall time ÷ SDK awaited 1 by 1`,
      "<=",
      0.7,
      "×",
      ratioOf(index, `leaf-send-${mid}`, `sdk-seq-${mid}`, "wallMs"),
    ),
    t(
      "send-wall-vs-sdk-all",
      `leaf send N=${mid}: wall time ÷ SDK all in flight`,
      "<=",
      1.0,
      "×",
      ratioOf(index, `leaf-send-${mid}`, `sdk-all-${mid}`, "wallMs"),
    ),
    t(
      "send-rate-vs-mqttjs",
      `leaf send N=${big}: send-phase msg/s ÷ raw mqtt.js`,
      ">=",
      0.9,
      "×",
      ratioOf(index, `leaf-send-${big}`, `mqttjs-${big}`, "perSec"),
    ),
    t(
      "drain-rate-vs-mqttjs",
      `leaf run draining ${big}: msg/s ÷ raw mqtt.js N=${big}`,
      ">=",
      0.8,
      "×",
      ratioOf(index, `leaf-run-drain-${big}`, `mqttjs-${big}`, "perSec"),
    ),
    t(
      "cold-start-vs-sdk",
      "leaf send N=1 (deno run): spawn → first PUBACK ÷ SDK",
      "<=",
      0.6,
      "×",
      ratioOf(index, "leaf-send-1", "sdk-seq-1", "firstAckMs"),
    ),
  ];
  if (index.has("leaf-send-bin-1")) {
    targets.push(t(
      "cold-start-bin-vs-sdk",
      "leaf send N=1 (compiled): spawn → first PUBACK ÷ SDK",
      "<=",
      0.6,
      "×",
      ratioOf(index, "leaf-send-bin-1", "sdk-seq-1", "firstAckMs"),
    ));
  }
  targets.push(
    t(
      "send-rss-vs-sdk",
      `leaf send N=${mid}: peak RSS ÷ SDK awaited 1 by 1`,
      "<=",
      0.8,
      "×",
      ratioOf(index, `leaf-send-${mid}`, `sdk-seq-${mid}`, "maxRssKiB"),
    ),
    t(
      "run-rss-vs-sdk-1",
      // Issue 7 asks for the steady state: the median VmRSS sampled while the
      // backlog drains (the peak is in the contenders table's RSS column).
      `leaf run with ${backlog} queued: steady-state RSS (median while draining) ÷ SDK process sending 1 message (peak)`,
      "<=",
      1.0,
      "×",
      ratioOf(index, `leaf-run-restart-${backlog}`, "sdk-seq-1", "steadyRssKiB", "maxRssKiB"),
    ),
    t(
      "idle-cpu",
      "leaf run idle (system sensor every 10 s): CPU, % of one core",
      "<=",
      0.5,
      "%",
      spread([extra.idleCpuPct]),
    ),
    t(
      "outbox-append",
      "outbox append, batched (issue 3)",
      ">=",
      50_000,
      "msg/s",
      spread(extra.appendPerSec),
    ),
    t(
      "restart-ready",
      `leaf run restart with ${backlog} queued: spawn → first PUBACK (issue 3)`,
      "<=",
      1_000,
      "ms",
      spreadOf(index, `leaf-run-restart-${backlog}`, "firstAckMs"),
    ),
  );
  return targets;
}

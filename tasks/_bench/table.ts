/**
 * The Markdown the bench prints: one row per contender (figures and their
 * ratios to the official SDK in the same round), the targets with met or
 * missed, and the outbox and idle figures.
 *
 * @module
 */
import { type Contender, MOSQUITTO_PUB_NOTE } from "./contenders.ts";
import type { IdleResult } from "./idle.ts";
import { type Metric, ratioOf, type SampleIndex, type Spread, spread, spreadOf } from "./stats.ts";
import type { Plan } from "./plan.ts";
import type { TargetResult } from "./targets.ts";

/** In-process outbox figures of one round (`tasks/bench_outbox.ts`). */
export interface OutboxSample {
  round: number;
  appendPerSec: number;
  drainPerSec: number;
  openMs: number;
  dbBytes: number;
}

/** Formats a number with `digits` decimals, or thousands separators for big ones. */
export function num(value: number, digits = 2): string {
  if (Math.abs(value) >= 1000) return Math.round(value).toLocaleString("en");
  return value.toFixed(digits);
}

/** `1.23 [1.10–1.40]`, or `1.23` for one round, or `–` when unmeasured. */
export function cell(s: Spread | undefined, scale = 1, digits = 2): string {
  if (!s) return "–";
  const m = num(s.median * scale, digits);
  return s.count < 2 || s.min === s.max
    ? m
    : `${m} [${num(s.min * scale, digits)}–${num(s.max * scale, digits)}]`;
}

function row(cells: string[]): string {
  return `| ${cells.join(" | ")} |`;
}

function tableOf(head: string[], rows: string[][]): string {
  return [row(head), row(head.map(() => "---")), ...rows.map(row)].join("\n");
}

/** Which runs a contender's figures are divided by (same round). */
export interface Refs {
  wallSeq?: string;
  wallAll?: string;
  rss?: string;
  firstAck?: string;
  rate?: string;
}

/**
 * The SDK run with the same N (awaited one by one, and all in flight), and
 * raw mqtt.js with the same N for rates. The restart row is compared with the
 * SDK sending one message (its wall time is not comparable with anything).
 */
export function refsOf(c: Contender): Refs {
  if (c.kind === "leaf-run-restart") return { rss: "sdk-seq-1", firstAck: "sdk-seq-1" };
  const seq = `sdk-seq-${c.n}`;
  return {
    wallSeq: seq,
    ...(c.n > 1 ? { wallAll: `sdk-all-${c.n}`, rate: `mqttjs-${c.n}` } : {}),
    rss: seq,
    firstAck: seq,
  };
}

/** The per-contender table. */
export function contenderTable(index: SampleIndex, contenders: Contender[], plan: Plan): string {
  const ratio = (key: string, ref: string | undefined, metric: Metric) =>
    ref && index.has(ref) ? cell(ratioOf(index, key, ref, metric)) : "–";
  const rows = contenders.filter((c) => index.has(c.key)).map((c) => {
    const refs = refsOf(c);
    return [
      c.label,
      cell(spreadOf(index, c.key, "wallMs"), 1 / 1000),
      ratio(c.key, refs.wallSeq, "wallMs"),
      ratio(c.key, refs.wallAll, "wallMs"),
      cell(spreadOf(index, c.key, "maxRssKiB"), 1 / 1024, 0),
      ratio(c.key, refs.rss, "maxRssKiB"),
      cell(spreadOf(index, c.key, "connackMs"), 1, 0),
      cell(spreadOf(index, c.key, "firstAckMs"), 1, 0),
      ratio(c.key, refs.firstAck, "firstAckMs"),
      cell(spreadOf(index, c.key, "perSec"), 1, 0),
      ratio(c.key, refs.rate, "perSec"),
      cell(spreadOf(index, c.key, "cpuS")),
    ];
  });
  return [
    tableOf(
      [
        "Contender",
        "Wall s",
        "× SDK 1by1",
        "× SDK all",
        "Peak RSS MiB",
        "× SDK 1by1",
        "Spawn→CONNACK ms",
        "Spawn→1st PUBACK ms",
        "× SDK 1by1",
        "CONNACK→last PUBACK msg/s",
        "× mqtt.js",
        "CPU s",
      ],
      rows,
    ),
    "",
    "Median [min–max] over the measured rounds. Each × is computed within a round against the " +
    "run named in the header with the same N (SDK 1by1 = sendEvent awaited one by one, SDK all " +
    "= all in flight, mqtt.js = raw mqtt.js pipelined), then summarised. `leaf run` rows: wall = " +
    `spawn → the N-th arrival; the restart row (${plan.backlog} queued) stops after ` +
    `${Math.min(plan.big, plan.backlog)} arrivals, and its RSS and first PUBACK are compared ` +
    `with the SDK process sending 1 message. ${MOSQUITTO_PUB_NOTE}.`,
  ].join("\n");
}

function limitText(t: TargetResult): string {
  const v = t.unit === "×" ? `${t.limit.toFixed(1)} ×` : `${num(t.limit, 1)} ${t.unit}`;
  return `${t.op === "<=" ? "≤" : "≥"} ${v}`;
}

const DIGITS: Record<TargetResult["unit"], number> = { "×": 2, "%": 3, ms: 0, "msg/s": 0 };

/** The targets table. */
export function targetTable(targets: TargetResult[]): string {
  return tableOf(
    ["Target", "Measured", "Limit", "Result"],
    targets.map((t) => [
      t.text,
      `${cell(t.value, 1, DIGITS[t.unit])}${t.unit === "×" ? "" : ` ${t.unit}`}`,
      limitText(t),
      t.met === undefined ? "not measured" : t.met ? "**met**" : "**missed**",
    ]),
  );
}

/** The outbox and idle figures. */
export function figuresTable(
  index: SampleIndex,
  plan: Plan,
  outbox: OutboxSample[],
  idle: IdleResult | undefined,
): string {
  const restart = `leaf-run-restart-${plan.backlog}`;
  const drain = `leaf-run-drain-${plan.big}`;
  const rows: string[][] = [
    [
      "outbox append, batched, in-process",
      `${cell(spread(outbox.map((o) => o.appendPerSec)), 1, 0)} msg/s`,
    ],
    [
      "outbox peek+ack, in-process (no network)",
      `${cell(spread(outbox.map((o) => o.drainPerSec)), 1, 0)} msg/s`,
    ],
    [
      `outbox open → first peek with ${plan.backlog} queued, in-process`,
      `${cell(spread(outbox.map((o) => o.openMs)), 1, 1)} ms`,
    ],
    [
      `leaf run drain over TLS, ${plan.big} queued`,
      `${cell(spreadOf(index, drain, "perSec"), 1, 0)} msg/s`,
    ],
    [
      `leaf run restart, ${plan.backlog} queued: spawn → "connected to"`,
      `${cell(spreadOf(index, restart, "connectedMs"), 1, 0)} ms`,
    ],
    [
      `leaf run restart, ${plan.backlog} queued: spawn → first PUBACK`,
      `${cell(spreadOf(index, restart, "firstAckMs"), 1, 0)} ms`,
    ],
    [
      `leaf run, ${plan.backlog} queued: median RSS while draining`,
      `${cell(spreadOf(index, restart, "steadyRssKiB"), 1 / 1024, 0)} MiB`,
    ],
  ];
  if (idle) {
    rows.push(
      [
        `leaf run idle ${idle.seconds} s: CPU`,
        `${idle.leaf.cpuS.toFixed(2)} s = ${idle.leaf.pct.toFixed(3)} % of one core, RSS ${
          (idle.leaf.rssKiB / 1024).toFixed(0)
        } MiB`,
      ],
      [
        `SDK idle ${idle.seconds} s (1 message / 10 s): CPU`,
        `${idle.sdk.cpuS.toFixed(2)} s = ${idle.sdk.pct.toFixed(3)} % of one core, RSS ${
          (idle.sdk.rssKiB / 1024).toFixed(0)
        } MiB`,
      ],
    );
  }
  return tableOf(["Figure", "Median [min–max]"], rows);
}

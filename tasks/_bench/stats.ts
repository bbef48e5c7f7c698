/**
 * Summaries over rounds: median with min and max, and ratios computed inside
 * each round (a contender's figure over its reference's figure from the same
 * round) before they are summarised, so a slow round slows both sides.
 *
 * @module
 */
import type { Sample } from "./contenders.ts";

/** Median [min–max] of a figure over rounds. */
export interface Spread {
  median: number;
  min: number;
  max: number;
  /** How many rounds contributed. */
  count: number;
}

/** A per-sample figure. */
export type Metric =
  | "wallMs"
  | "maxRssKiB"
  | "firstAckMs"
  | "perSec"
  | "cpuS"
  | "steadyRssKiB"
  | "connectedMs"
  | "connackMs";

/** The median of `values` (the mean of the middle two for an even count). */
export function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Median, min and max of the finite values, or undefined when there are none. */
export function spread(values: (number | undefined)[]): Spread | undefined {
  const v = values.filter((x): x is number => x !== undefined && Number.isFinite(x));
  if (v.length === 0) return undefined;
  return { median: median(v), min: Math.min(...v), max: Math.max(...v), count: v.length };
}

/** A sample's value of `metric`. */
export function metricOf(s: Sample, metric: Metric): number | undefined {
  return metric === "cpuS" ? s.userS + s.sysS : s[metric];
}

/** Samples indexed by contender key, then round. */
export type SampleIndex = Map<string, Map<number, Sample>>;

/** Indexes measured samples (warm-up rounds excluded by the caller). */
export function indexSamples(samples: Sample[]): SampleIndex {
  const index: SampleIndex = new Map();
  for (const s of samples) {
    if (!index.has(s.key)) index.set(s.key, new Map());
    index.get(s.key)!.set(s.round, s);
  }
  return index;
}

/** The spread of `metric` of contender `key` over rounds. */
export function spreadOf(index: SampleIndex, key: string, metric: Metric): Spread | undefined {
  return spread([...(index.get(key)?.values() ?? [])].map((s) => metricOf(s, metric)));
}

/**
 * The spread of `key`'s `metric` divided by `ref`'s, computed per round
 * (rounds where either is missing are skipped). `refMetric` defaults to `metric`.
 */
export function ratioOf(
  index: SampleIndex,
  key: string,
  ref: string,
  metric: Metric,
  refMetric: Metric = metric,
): Spread | undefined {
  const mine = index.get(key);
  const theirs = index.get(ref);
  if (!mine || !theirs) return undefined;
  const ratios: number[] = [];
  for (const [round, s] of mine) {
    const r = theirs.get(round);
    const a = metricOf(s, metric);
    const b = r && metricOf(r, refMetric);
    if (a !== undefined && b !== undefined && b !== 0) ratios.push(a / b);
  }
  return spread(ratios);
}

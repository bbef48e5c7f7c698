/**
 * What one bench run does: message counts, rounds, the idle window, and the
 * order of the contenders inside a round.
 *
 * @module
 */
import { type Contender, contender } from "./contenders.ts";

/** Message counts of one bench run. */
export interface Plan {
  /** The "many messages" count (2000 in a full run). */
  mid: number;
  /** The "lots of messages" count (20000); also the drain backlog. */
  big: number;
  /** Backlog for the restart run (100 000). */
  backlog: number;
}

/** A plan with its rounds and idle window. */
export interface Size extends Plan {
  rounds: number;
  warmup: number;
  /** Idle window, seconds. */
  idle: number;
}

/** The full run: the numbers. */
export const FULL: Size = {
  mid: 2000,
  big: 20_000,
  backlog: 100_000,
  rounds: 5,
  warmup: 1,
  idle: 60,
};

/** `--quick`: one round with small counts, for CI (well under 2 minutes). */
export const QUICK: Size = { mid: 200, big: 1000, backlog: 5000, rounds: 1, warmup: 0, idle: 5 };

/**
 * The contenders of one round, in the order they run: for each N, leaf first,
 * then the official SDK it is compared with, then the raw clients; the
 * `leaf run` outbox runs last.
 */
export function roundOrder(plan: Plan, compiled: boolean): Contender[] {
  const list: Contender[] = [contender("leaf-send", 1)];
  if (compiled) list.push(contender("leaf-send-bin", 1));
  list.push(contender("sdk-seq", 1), contender("mqttjs", 1), contender("mosquitto_pub", 1));
  for (const n of [plan.mid, plan.big]) {
    list.push(
      contender("leaf-send", n),
      contender("sdk-seq", n),
      contender("sdk-all", n),
      contender("mqttjs", n),
      contender("mosquitto_pub", n),
    );
  }
  list.push(contender("leaf-run-drain", plan.big), contender("leaf-run-restart", plan.backlog));
  return list;
}

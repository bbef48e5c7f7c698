/**
 * Runs one contender once, dispatching to its runner.
 *
 * @module
 */
import type { Contender, RunContext, Sample } from "./contenders.ts";
import { runLeafRun } from "./leaf_run.ts";
import { runOneShot } from "./one_shot.ts";

/**
 * Runs one contender once. A failed run (a rare crash at exit has been seen
 * from Deno) is retried once under a new client id, and the sample says so.
 */
export async function runContender(ctx: RunContext, c: Contender, round: number): Promise<Sample> {
  const once = (deviceId: string) =>
    c.kind === "leaf-run-drain" || c.kind === "leaf-run-restart"
      ? runLeafRun(ctx, c, round, deviceId)
      : runOneShot(ctx, c, round, deviceId);
  try {
    return await once(`${c.key}-r${round}`);
  } catch (error) {
    const reason = (error as Error).message.split("\n")[0];
    console.error(`bench: ${c.label}, round ${round} failed (${reason}); running it again`);
    return { ...await once(`${c.key}-r${round}-again`), retried: reason };
  }
}

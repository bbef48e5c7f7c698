/**
 * Runs `leaf check` steps in order. A step runs only when every step it
 * `needs` passed (ok or warn); otherwise it is reported as skipped, so a
 * failure stops exactly the checks it makes meaningless. The exit code is
 * the first failure's class (CLI.md), 0 when there are only warnings.
 *
 * @module
 */
import { EXIT, LeafError } from "../errors.ts";
import type { CheckReport } from "./report.ts";
import type { CheckContext, Step, StepOutcome, StepResult } from "./step.ts";

/** Turns an exception thrown by a step into its outcome. */
export function outcomeOfError(error: unknown): StepOutcome {
  if (error instanceof LeafError) {
    return {
      status: "fail",
      finding: error.message,
      ...(error.hint ? { fix: error.hint } : {}),
      exitCode: error.exitCode,
    };
  }
  const message = error instanceof Error ? error.message : String(error);
  return {
    status: "fail",
    finding: `internal error (a bug, please report it): ${message}`,
    exitCode: EXIT.bug,
  };
}

/** Runs `steps` against `ctx`, then the context's cleanups, and returns the report. */
export async function runChecks(steps: Step[], ctx: CheckContext): Promise<CheckReport> {
  const results: StepResult[] = [];
  const status = new Map<string, StepResult["status"]>();
  try {
    for (const step of steps) {
      const blocked = step.needs.filter((n) => {
        const s = status.get(n);
        return s !== "ok" && s !== "warn";
      });
      let result: StepResult;
      if (blocked.length > 0) {
        const why = blocked.map((n) => `${n} ${status.get(n) === "skip" ? "skipped" : "failed"}`);
        result = { name: step.name, status: "skip", finding: `skipped: ${why.join(", ")}` };
      } else {
        let outcome: StepOutcome;
        try {
          outcome = await step.run(ctx);
        } catch (error) {
          outcome = outcomeOfError(error);
        }
        result = { name: step.name, ...outcome };
        if (result.status === "fail" && result.exitCode === undefined) {
          result.exitCode = EXIT.bug;
        }
      }
      status.set(step.name, result.status);
      results.push(result);
    }
  } finally {
    for (const cleanup of ctx.cleanups.splice(0).reverse()) {
      await cleanup().catch(() => {});
    }
  }
  const firstFail = results.find((r) => r.status === "fail");
  const t = ctx.target;
  return {
    ok: firstFail === undefined,
    exitCode: firstFail?.exitCode ?? EXIT.ok,
    gateway: t
      ? { host: t.host, port: t.port, ...(t.address ? { address: t.address } : {}) }
      : null,
    steps: results,
  };
}

/**
 * The shape of one `leaf check` step and its result. Pure types and small
 * constructors; the steps themselves live in `steps.ts`, `steps_tls.ts` and
 * `steps_mqtt.ts`, the runner in `run.ts`.
 *
 * @module
 */
import type { Config } from "../config/schema.ts";
import type { GatewayTarget } from "../config/target.ts";
import type { Secret } from "../secret.ts";
import type { MqttSession } from "../transport/mqtt.ts";
import type { CaFile } from "../trust/pem.ts";

/** How a step ended. `skip`: a step it needs failed, so running it would mean nothing. */
export type StepStatus = "ok" | "fail" | "warn" | "skip";

/** What a step found. */
export interface StepOutcome {
  status: Exclude<StepStatus, "skip">;
  /** One line: what was found. */
  finding: string;
  /** What to do about it (failures and warnings). */
  fix?: string;
  /** Exit code class of a failure (CLI.md): 2 config, 3 trust/clock, 4 auth, 5 unreachable. */
  exitCode?: number;
  /** Machine-readable facts, for `--json`. */
  details?: Record<string, unknown>;
  /** Extra text lines printed indented under the step (e.g. the certificate chain). */
  lines?: string[];
}

/** A step's outcome with its name, as reported. */
export interface StepResult extends Omit<StepOutcome, "status"> {
  name: string;
  status: StepStatus;
}

/** Everything the steps learn and pass on, filled in as they run. */
export interface CheckContext {
  /** Timeout for each network operation, ms. */
  timeoutMs: number;
  /** The clock. */
  now: () => Date;
  config?: Config;
  /** The config file read, if any. */
  configFile?: string;
  target?: GatewayTarget;
  /** The pinned CA file, parsed. */
  ca?: CaFile;
  /** The device certificate and key, for x509=true (read in the config step). */
  x509?: { cert: string; key: Secret };
  /** Addresses the gateway host resolved to (or gateway.address). */
  addresses?: string[];
  /** Addresses that accepted TCP, in order. */
  reachable?: string[];
  /** The MQTT session the mqtt step opened (the twin step uses and ends it). */
  session?: MqttSession;
  /** Cleanups the runner calls when all steps are done (e.g. MQTT disconnect). */
  cleanups: (() => Promise<void>)[];
}

/** One step of `leaf check`. */
export interface Step {
  /** Short name: `config`, `clock`, `ca`, `dns`, `tcp`, `tls`, `mqtt`, `twin`. */
  name: string;
  /** Steps that must not have failed (or been skipped) for this one to mean anything. */
  needs: string[];
  run(ctx: CheckContext): Promise<StepOutcome>;
}

/** A passed step. */
export function ok(
  finding: string,
  extra: Omit<StepOutcome, "status" | "finding"> = {},
): StepOutcome {
  return { status: "ok", finding, ...extra };
}

/** A warning: worth fixing, but the connection can work. */
export function warn(
  finding: string,
  fix: string,
  extra: Omit<StepOutcome, "status" | "finding" | "fix"> = {},
): StepOutcome {
  return { status: "warn", finding, fix, ...extra };
}

/** A failure with its exit code class. */
export function fail(
  finding: string,
  fix: string | undefined,
  exitCode: number,
  extra: Omit<StepOutcome, "status" | "finding" | "fix" | "exitCode"> = {},
): StepOutcome {
  return { status: "fail", finding, ...(fix ? { fix } : {}), exitCode, ...extra };
}

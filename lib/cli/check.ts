/**
 * `leaf check`: diagnoses the path to the gateway step by step — config,
 * clock, CA file, DNS, TCP, TLS and the presented chain, MQTT CONNECT, twin
 * GET — and exits with the first failure's class (CLI.md), 0 when only
 * warnings were found. `--json` prints one JSON document instead of text.
 *
 * @module
 */
import { quoteArg } from "../log.ts";
import { parseDuration } from "../config/duration.ts";
import { EXIT, UsageError } from "../errors.ts";
import { renderJson, renderText } from "../check/report.ts";
import { runChecks } from "../check/run.ts";
import type { CheckContext, Step } from "../check/step.ts";
import { caStep, clockStep, configStep, dnsStep, tcpStep } from "../check/steps.ts";
import { mqttStep, twinStep } from "../check/steps_mqtt.ts";
import { tlsStep } from "../check/steps_tls.ts";
import { configFlags, CONNECTION_HELP, CONNECTION_OPTIONS, parse } from "./_args.ts";

const HELP = `Usage: leaf check [options]

Diagnose the connection to the gateway step by step:
  config → clock → ca → dns → tcp → tls (chain, SAN, dates) → mqtt (CONNACK) → twin (GET)
Each step prints ✓ ok, ! warning, ✗ failure (with the fix) or – skipped.
Exit codes: 0 connected (warnings allowed), 2 config, 3 TLS trust or clock,
4 refused credentials, 5 gateway unreachable.

Options:
  --json                    print one JSON document instead of text
  --timeout DURATION        limit for each network step (default 5s)
${CONNECTION_HELP}`;

const OPTIONS = {
  ...CONNECTION_OPTIONS,
  json: { type: "boolean" },
  timeout: { type: "string" },
} as const;

/** The steps in order. */
export function checkSteps(values: Record<string, unknown>): Step[] {
  return [
    configStep(() => configFlags(values)),
    clockStep(),
    caStep(),
    dnsStep(),
    tcpStep(),
    tlsStep(),
    mqttStep(),
    twinStep(),
  ];
}

/** Runs `leaf check`. */
export async function main(args: string[]): Promise<number> {
  const { values } = parse("check", args, OPTIONS);
  if (values.help) {
    console.log(HELP);
    return EXIT.ok;
  }
  const timeoutMs = values.timeout === undefined ? 5_000 : parseDuration(values.timeout);
  if (timeoutMs === undefined || timeoutMs < 100 || timeoutMs > 600_000) {
    throw new UsageError(
      `--timeout ${quoteArg(String(values.timeout), "value")} is not a duration from 100ms to 10m`,
      {
        hint: "write e.g. --timeout 5s",
      },
    );
  }
  const ctx: CheckContext = { timeoutMs, now: () => new Date(), cleanups: [] };
  const report = await runChecks(checkSteps(values), ctx);
  console.log(values.json ? renderJson(report) : renderText(report));
  return report.exitCode;
}

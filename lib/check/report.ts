/**
 * Renders `leaf check` results: one text line per step (`✓ dns  gw → 10.0.0.5`)
 * with its fix and indented detail lines, or one JSON document. Pure; every
 * string passes through {@linkcode redact} so a key that slipped into a
 * message is still masked.
 *
 * @module
 */
import type { X509Certificate } from "node:crypto";
import { redact } from "../log.ts";
import { describeCertificate } from "../trust/pem.ts";
import type { StepResult, StepStatus } from "./step.ts";

/** The gateway checked, as `--json` reports it. */
export interface GatewaySummary {
  host: string;
  port: number;
  address?: string;
}

/** The whole run. */
export interface CheckReport {
  /** True when no step failed (warnings allowed). */
  ok: boolean;
  /** The first failure's exit code class, else 0. */
  exitCode: number;
  /** Null when the config step failed before the gateway was known. */
  gateway: GatewaySummary | null;
  steps: StepResult[];
}

/** A certificate as `--json` shows it. */
export interface CertificateJson {
  subject: string;
  issuer: string;
  subjectAltNames: string[];
  notBefore: string;
  notAfter: string;
  sha256: string;
  isCa: boolean;
  /** The same certificate as one in the pinned CA file. */
  pinned: boolean;
}

/** Status symbols of the text output. */
export const SYMBOLS: Record<StepStatus, string> = { ok: "✓", fail: "✗", warn: "!", skip: "–" };

function iso(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** `3 d`, or `< 1 d`; rounded down, as the findings are. */
function wholeDays(ms: number): string {
  const d = Math.floor(ms / 86_400_000);
  return d === 0 ? "< 1 d" : `${d} d`;
}

/** A certificate's facts for JSON; `pins` holds the pinned CA's SHA-256 fingerprints. */
export function certificateJson(x: X509Certificate, pins: Set<string>): CertificateJson {
  const c = describeCertificate(x);
  return {
    subject: c.subject,
    issuer: c.issuer,
    subjectAltNames: c.subjectAltNames,
    notBefore: iso(c.notBefore),
    notAfter: iso(c.notAfter),
    sha256: c.sha256,
    isCa: c.isCa,
    pinned: pins.has(c.sha256),
  };
}

/**
 * A chain as `openssl s_client -showcerts` lists it (depth, s:, i:) plus
 * SANs, validity with days left, and the SHA-256 fingerprint.
 */
export function chainLines(
  title: string,
  chain: CertificateJson[],
  now: Date,
): string[] {
  const lines = [title];
  chain.forEach((c, i) => {
    const left = Date.parse(c.notAfter) - now.getTime();
    const when = left < 0
      ? `expired ${wholeDays(-left)} ago`
      : Date.parse(c.notBefore) > now.getTime()
      ? `not valid for ${wholeDays(Date.parse(c.notBefore) - now.getTime())}`
      : `${wholeDays(left)} left`;
    const tags = [c.isCa ? "CA" : "", c.pinned ? "the pinned CA" : ""].filter(Boolean);
    lines.push(` ${i} s:${c.subject}${tags.length ? `  (${tags.join(", ")})` : ""}`);
    lines.push(`   i:${c.issuer}`);
    if (c.subjectAltNames.length > 0) lines.push(`   SAN: ${c.subjectAltNames.join(", ")}`);
    lines.push(`   v:NotBefore: ${c.notBefore}; NotAfter: ${c.notAfter} (${when})`);
    lines.push(`   SHA-256: ${c.sha256}`);
  });
  return lines;
}

/** The text report: one line per step, then a summary line. */
export function renderText(report: CheckReport): string {
  const width = Math.max(...report.steps.map((s) => s.name.length));
  const pad = " ".repeat(width + 4);
  const out: string[] = [];
  for (const step of report.steps) {
    out.push(`${SYMBOLS[step.status]} ${step.name.padEnd(width)}  ${step.finding}`);
    if (step.fix && step.status !== "ok" && step.status !== "skip") {
      out.push(`${pad}fix: ${step.fix}`);
    }
    for (const line of step.lines ?? []) out.push(`${pad}${line}`);
  }
  const fails = report.steps.filter((s) => s.status === "fail");
  const warns = report.steps.filter((s) => s.status === "warn");
  const plural = (n: number, w: string) => `${n} ${w}${n === 1 ? "" : "s"}`;
  if (fails.length > 0) {
    out.push(
      `Failed at ${fails[0].name} (exit ${report.exitCode}); ${plural(warns.length, "warning")}`,
    );
  } else if (warns.length > 0) {
    out.push(
      `Connected, with ${plural(warns.length, "warning")}: ${warns.map((w) => w.name).join(", ")}`,
    );
  } else {
    out.push("All checks passed");
  }
  return redact(out.join("\n"));
}

/** The JSON report: `{ ok, exitCode, gateway, steps: [{ name, status, finding, fix?, details? }] }`. */
export function renderJson(report: CheckReport): string {
  const steps = report.steps.map((s) => ({
    name: s.name,
    status: s.status,
    finding: s.finding,
    ...(s.fix !== undefined ? { fix: s.fix } : {}),
    ...(s.details !== undefined ? { details: s.details } : {}),
  }));
  return redact(JSON.stringify({ ...report, steps }, null, 2));
}

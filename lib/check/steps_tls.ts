/**
 * Step 6 of `leaf check`: the TLS handshake with the pinned CA, the presented
 * chain printed like `openssl s_client -showcerts`, and its diagnosis.
 *
 * @module
 */
import { EXIT } from "../errors.ts";
import { isTlsProtocolError, TLS_PROTOCOL_HINT } from "../transport/classify.ts";
import { describeCertificate } from "../trust/pem.ts";
import { type ChainProblem, diagnoseChain } from "./chain.ts";
import { certificateJson, chainLines } from "./report.ts";
import { type CheckContext, fail, ok, type Step, type StepOutcome, warn } from "./step.ts";
import {
  type HandshakeOptions,
  type HandshakeResult,
  inspectionHandshake,
  verifiedHandshake,
} from "./tls_inspect.ts";

/** Error codes that mean the TCP link broke or stalled, not that trust failed. */
const LINK_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "EPIPE",
  "ETIMEDOUT",
  "ECONNABORTED",
  "EHOSTUNREACH",
  "ENETUNREACH",
]);

/** The handshakes, injectable for tests. */
export interface TlsProbes {
  verified(o: HandshakeOptions): Promise<HandshakeResult>;
  inspect(o: HandshakeOptions): Promise<HandshakeResult>;
}

const PROBES: TlsProbes = { verified: verifiedHandshake, inspect: inspectionHandshake };

function problemLines(problems: ChainProblem[]): string[] {
  return problems.map((p) => `${p.severity === "fail" ? "✗" : "!"} ${p.finding}`);
}

/** 6. TLS handshake as the sender makes it; on failure, one inspection handshake explains it. */
export function tlsStep(probes: TlsProbes = PROBES): Step {
  return {
    name: "tls",
    needs: ["tcp", "ca", "clock"],
    async run(ctx: CheckContext): Promise<StepOutcome> {
      const t = ctx.target!;
      const ca = ctx.ca!;
      const address = ctx.reachable?.[0] ?? t.address ?? t.host;
      const options: HandshakeOptions = {
        address,
        port: t.port,
        host: t.host,
        ca: ca.pem,
        ...(ctx.x509 ? { cert: ctx.x509.cert, key: ctx.x509.key } : {}),
        timeoutMs: ctx.timeoutMs,
      };
      const now = ctx.now();
      const pins = new Set(ca.certs.map((c) => describeCertificate(c).sha256));
      const pinnedRoot = describeCertificate(ca.certs.find((c) => c.ca) ?? ca.certs[0]).subject;
      const verified = await probes.verified(options);

      if (verified.ok) {
        const chain = verified.chain.map((c) => certificateJson(c, pins));
        const { problems } = diagnoseChain({
          presented: verified.chain,
          anchors: ca.certs,
          host: t.host,
          now,
        });
        const lines = chainLines(
          "Certificate chain (verified; depth, s:subject, i:issuer)",
          chain,
          now,
        );
        const details = { protocol: verified.protocol, ms: Math.round(verified.ms), chain };
        if (problems.length > 0) {
          // The handshake passed, so anything found here is a warning (e.g. expiring soon).
          return warn(problems[0].finding, problems[0].fix, {
            details: { ...details, problems },
            lines: [...problemLines(problems.slice(1)), ...lines],
          });
        }
        return ok(
          `"${t.host}" verified (${verified.protocol}): a chain of ${chain.length} leads to the pinned root "${pinnedRoot}"`,
          { details, lines },
        );
      }

      if (isTlsProtocolError(verified.code, verified.message)) {
        // Same class and hint as `leaf send` (classify.ts `tls.protocol`).
        const what = verified.code === "ECONNRESET"
          ? "closed the connection during the TLS handshake"
          : "does not speak TLS";
        return fail(
          `${address}:${t.port} accepted TCP but ${what} (${verified.code}: ${verified.message})`,
          TLS_PROTOCOL_HINT,
          EXIT.unreachable,
          { details: { error: verified.code, message: verified.message, code: "tls.protocol" } },
        );
      }

      if (LINK_CODES.has(verified.code)) {
        return fail(
          `${address}:${t.port} accepted TCP but did not complete a TLS handshake (${verified.code})`,
          `is ${t.port} edgeHub's MQTT over TLS port (8883, not 1883)? check the gateway's edgeHub logs`,
          EXIT.unreachable,
          { details: { error: verified.code, message: verified.message } },
        );
      }

      const inspected = await probes.inspect(options);
      const chain = inspected.chain.map((c) => certificateJson(c, pins));
      const lines = chainLines(
        "Certificate chain (unverified; depth, s:subject, i:issuer)",
        chain,
        now,
      );
      const details = { error: verified.code, message: verified.message, chain };
      if (inspected.chain.length === 0) {
        return fail(
          `TLS handshake with "${t.host}" failed (${verified.code}: ${verified.message}) and the server's chain could not be read`,
          "check that the gateway serves TLS on this port; `openssl s_client -connect` shows more",
          EXIT.trust,
          { details },
        );
      }
      const { problems } = diagnoseChain({
        presented: inspected.chain,
        anchors: ca.certs,
        host: t.host,
        now,
      });
      const failures = problems.filter((p) => p.severity === "fail");
      if (failures.length === 0) {
        return fail(
          `TLS handshake with "${t.host}" failed (${verified.code}: ${verified.message}), though the chain leads to "${pinnedRoot}", names the host and is in date`,
          "check the certificates' key usages and path length on the gateway",
          EXIT.trust,
          { details: { ...details, problems }, lines: [...problemLines(problems), ...lines] },
        );
      }
      return fail(failures[0].finding, failures[0].fix, EXIT.trust, {
        details: { ...details, problems },
        lines: [...problemLines(problems.slice(1)), ...lines],
      });
    },
  };
}

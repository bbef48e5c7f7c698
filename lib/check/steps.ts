/**
 * The local and network steps of `leaf check`: config, clock, CA file, DNS
 * and TCP. The TLS step is in `steps_tls.ts`, MQTT and twin in
 * `steps_mqtt.ts`. Each step fills the {@linkcode CheckContext} for the next.
 *
 * @module
 */
import { isIP } from "node:net";
import { type ConfigFlags, loadConfig } from "../config/load.ts";
import { resolveTarget } from "../config/target.ts";
import { ConfigError, EXIT } from "../errors.ts";
import { authMode, clientIdOf } from "../iothub/connection_string.ts";
import { Secret } from "../secret.ts";
import { clockError, clockIsBeforeRelease } from "../transport/classify.ts";
import { describeCertificate, loadCaFile } from "../trust/pem.ts";
import { RELEASE_DATE } from "../version.ts";
import { EXPIRY_WARNING_MS } from "./chain.ts";
import { resolveAll } from "./dns.ts";
import { type NtpState, ntpState } from "./ntp.ts";
import { findInOsStore, type OsStorePaths } from "./os_store.ts";
import { certificateJson } from "./report.ts";
import { fail, ok, type Step, type StepOutcome, warn } from "./step.ts";
import { explainTcpError, probeTcp } from "./tcp.ts";

function iso(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, "Z");
}

async function readPem(path: string, what: string): Promise<string> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (cause) {
    throw new ConfigError(`${what} "${path}" cannot be read (${(cause as Error).name})`, {
      hint: "set auth.x509 or --cert/--key to readable PEM files",
      cause,
    });
  }
  if (!text.includes("-----BEGIN ")) {
    throw new ConfigError(`${what} "${path}" is not PEM`, { hint: "convert it to PEM" });
  }
  return text;
}

/** 1. The config file, environment and flags, and the connection string. */
export function configStep(flags: () => ConfigFlags): Step {
  return {
    name: "config",
    needs: [],
    async run(ctx) {
      const { config, file } = await loadConfig(flags());
      const target = await resolveTarget(config);
      if (target.x509) {
        ctx.x509 = {
          cert: await readPem(target.x509.cert, "Device certificate"),
          key: new Secret(await readPem(target.x509.key, "Device key")),
        };
      }
      ctx.config = config;
      ctx.configFile = file;
      ctx.target = target;
      const mode = authMode(target.cs);
      const id = clientIdOf(target.cs);
      return ok(
        `${
          file ? `"${file}"` : "no config file"
        }: "${id}" (${mode}) via "${target.host}:${target.port}"${
          target.address ? ` at ${target.address}` : ""
        }, CA "${target.caFile}"`,
        {
          details: {
            ...(file ? { file } : {}),
            hub: target.cs.hostName,
            clientId: id,
            auth: mode,
            host: target.host,
            port: target.port,
            ...(target.address ? { address: target.address } : {}),
            caFile: target.caFile,
          },
        },
      );
    },
  };
}

/** 2. The clock: not before this release; NTP synchronised when systemd can tell. */
export function clockStep(ntp: () => Promise<NtpState> = () => ntpState()): Step {
  return {
    name: "clock",
    needs: [],
    async run(ctx) {
      const now = ctx.now();
      if (clockIsBeforeRelease(now)) {
        const e = clockError(now);
        return fail(e.message, e.hint, e.exitCode, { details: { now: now.toISOString() } });
      }
      const state = await ntp();
      const details = {
        now: now.toISOString(),
        releaseDate: RELEASE_DATE,
        ntpSynchronized: state.known ? state.synchronized : null,
      };
      if (state.known && !state.synchronized) {
        return warn(
          `${iso(now)}, but NTP is not synchronised`,
          "enable it: sudo timedatectl set-ntp true (a board without an RTC keeps a wrong time until it syncs; certificates and SAS tokens depend on it)",
          { details },
        );
      }
      const ntpText = state.known ? "NTP synchronised" : `NTP state unknown (${state.reason})`;
      return ok(`${iso(now)}, ${ntpText}`, { details });
    },
  };
}

/** 3. The pinned CA file: parses, is a CA, is valid; and whether the OS store has it. */
export function caStep(store?: OsStorePaths): Step {
  return {
    name: "ca",
    needs: ["config"],
    async run(ctx) {
      const file = ctx.target!.caFile;
      const ca = await loadCaFile(file, "CA file");
      const infos = ca.certs.map(describeCertificate);
      const now = ctx.now().getTime();
      const pins = new Set(infos.map((i) => i.sha256));
      const found = await findInOsStore([...pins], store);
      const details = {
        file,
        certificates: ca.certs.map((c) => certificateJson(c, pins)),
        osStore: { installed: found.foundIn.length > 0, foundIn: found.foundIn },
      };
      const lines = infos.length === 1 ? [`SHA-256: ${infos[0].sha256}`] : infos.flatMap((c, i) => [
        `${i + 1}: ${c.subject}${c.isCa ? "" : " (not a CA)"}`,
        `   valid ${iso(c.notBefore)} → ${iso(c.notAfter)}`,
        `   SHA-256: ${c.sha256}`,
      ]);
      lines.push(
        found.foundIn.length > 0
          ? `OS trust store: installed (${found.foundIn.join(", ")})`
          : "OS trust store: not installed (leaf pins the CA itself; `leaf ca install` adds it for openssl, curl and others)",
      );
      const extra = { details, lines };
      const cas = infos.filter((c) => c.isCa);
      if (cas.length === 0) {
        return fail(
          `"${file}" holds no CA certificate: "${infos[0].subject}" is not a CA (CA:FALSE)`,
          "pin the gateway's root CA (azure-iot-test-only.root.ca.cert.pem or your production root), not its server certificate or a device certificate",
          EXIT.usage,
          extra,
        );
      }
      ctx.ca = ca;
      for (const c of infos) {
        if (c.notAfter.getTime() < now) {
          return fail(
            `the pinned CA "${c.subject}" expired on ${iso(c.notAfter)}`,
            "copy the gateway's current root CA to this device (IoT Edge test roots last 30 days); if the date is wrong, fix the clock",
            EXIT.trust,
            extra,
          );
        }
        if (c.notBefore.getTime() > now) {
          return fail(
            `the pinned CA "${c.subject}" is not valid until ${iso(c.notBefore)}`,
            "check this device's clock; if it is right, the CA was made on a machine whose clock was ahead",
            EXIT.trust,
            extra,
          );
        }
      }
      const root = cas[0];
      const expiring = infos.find((c) => c.notAfter.getTime() - now < EXPIRY_WARNING_MS);
      if (expiring) {
        return warn(
          `the pinned CA "${expiring.subject}" expires on ${iso(expiring.notAfter)}`,
          "renew the gateway's root CA and copy the new one to this device before then",
          extra,
        );
      }
      if (cas.length < infos.length) {
        return warn(
          `"${file}" also holds ${infos.length - cas.length} non-CA certificate(s)`,
          "pin only the root CA; a server certificate in the pin file trusts exactly that server",
          extra,
        );
      }
      const days = Math.floor((root.notAfter.getTime() - now) / 86_400_000);
      return ok(`"${root.subject}": CA, valid until ${iso(root.notAfter)} (${days} d left)`, extra);
    },
  };
}

/** 4. DNS for the gateway host (or gateway.address, which bypasses it). */
export function dnsStep(): Step {
  return {
    name: "dns",
    needs: ["config"],
    async run(ctx): Promise<StepOutcome> {
      const { host, address } = ctx.target!;
      if (address !== undefined && isIP(address) !== 0) {
        ctx.addresses = [address];
        return ok(`gateway.address is set: DNS for "${host}" bypassed, dialling ${address}`, {
          details: { host, addresses: [address], bypassed: true },
        });
      }
      if (isIP(host) !== 0) {
        ctx.addresses = [host];
        return ok(`"${host}" is an IP address: no DNS needed`, {
          details: { host, addresses: [host] },
        });
      }
      const name = address ?? host;
      const result = await resolveAll(name, ctx.timeoutMs);
      if (!result.ok) {
        return fail(
          `cannot resolve "${name}" (${result.code})`,
          address !== undefined
            ? "fix gateway.address (an IP is best)"
            : "add it to DNS or /etc/hosts, or set gateway.address to the gateway's IP",
          EXIT.unreachable,
          { details: { host: name, error: result.code } },
        );
      }
      ctx.addresses = result.addresses.map((a) => a.address);
      return ok(`${name} → ${ctx.addresses.join(", ")}`, {
        details: { host: name, addresses: result.addresses, ms: Math.round(result.ms) },
      });
    },
  };
}

/** 5. TCP to every address of the gateway. */
export function tcpStep(): Step {
  return {
    name: "tcp",
    needs: ["dns"],
    async run(ctx) {
      const port = ctx.target!.port;
      const addresses = ctx.addresses ?? [];
      const results = await Promise.all(
        addresses.map(async (address) => ({
          address,
          result: await probeTcp(address, port, ctx.timeoutMs),
        })),
      );
      const details = {
        port,
        results: results.map(({ address, result }) =>
          result.ok
            ? { address, ok: true, ms: Math.round(result.ms) }
            : { address, ok: false, error: result.code }
        ),
      };
      const good = results.filter((r) => r.result.ok);
      const bad = results.flatMap((r) => r.result.ok ? [] : [{ address: r.address, ...r.result }]);
      ctx.reachable = good.map((r) => r.address);
      if (good.length === 0) {
        const first = bad[0] ?? { code: "ENOADDR", address: "(none)" };
        const { finding, fix } = explainTcpError(first.code, first.address, port, ctx.timeoutMs);
        const more = bad.length > 1 ? ` (and ${bad.length - 1} more address(es) failed)` : "";
        return fail(finding + more, fix, EXIT.unreachable, { details });
      }
      const opened = good.map((r) =>
        `${r.address}:${port} open (${Math.round(r.result.ok ? r.result.ms : 0)} ms)`
      )
        .join(", ");
      if (bad.length > 0) {
        const { finding, fix } = explainTcpError(bad[0].code, bad[0].address, port, ctx.timeoutMs);
        return warn(`${opened}; but ${finding}`, `a client may try that address first: ${fix}`, {
          details,
        });
      }
      return ok(opened, { details });
    },
  };
}

/**
 * Does a certificate name the host? Matched as Deno's TLS (rustls/webpki)
 * does: against the subjectAltName only, never the CN; DNS names case-blind
 * with a `*.` wildcard for exactly one leftmost label; IP hosts only against
 * IP entries. Pure.
 *
 * @example
 * ```ts
 * hostMatchesSan("gw.local", ["DNS:gw.local", "DNS:edgeHub"]); // true
 * ```
 *
 * @module
 */
import { isIP } from "node:net";

/** Whether `host` matches one of the SAN entries (`DNS:…`, `IP:…`), as rustls does: SAN only. */
export function hostMatchesSan(host: string, subjectAltNames: string[]): boolean {
  const wanted = host.toLowerCase().replace(/\.$/, "");
  const ipVersion = isIP(wanted.replace(/^\[|\]$/g, ""));
  for (const entry of subjectAltNames) {
    const sep = entry.indexOf(":");
    const type = entry.slice(0, sep);
    const value = entry.slice(sep + 1).toLowerCase().replace(/\.$/, "");
    if (ipVersion !== 0) {
      if (type === "IP" && normalizeIp(value) === normalizeIp(wanted)) return true;
      continue;
    }
    if (type !== "DNS") continue;
    if (value === wanted) return true;
    // A wildcard covers exactly one leftmost label: *.example.net matches gw.example.net.
    if (value.startsWith("*.") && value.indexOf("*", 1) === -1) {
      const dot = wanted.indexOf(".");
      if (dot > 0 && wanted.slice(dot + 1) === value.slice(2)) return true;
    }
  }
  return false;
}

function normalizeIp(ip: string): string {
  const bare = ip.replace(/^\[|\]$/g, "");
  if (isIP(bare) !== 6) return bare;
  try {
    return new URL(`http://[${bare}]/`).hostname;
  } catch {
    return bare;
  }
}

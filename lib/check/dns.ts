/**
 * Resolves the gateway host the way the connection will: `node:dns`
 * `lookup` (getaddrinfo, so /etc/hosts counts), every A and AAAA address,
 * with a deadline.
 *
 * @module
 */
import { lookup } from "node:dns";

/** One resolved address. */
export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** The outcome of {@linkcode resolveAll}. */
export type ResolveResult =
  | { ok: true; addresses: ResolvedAddress[]; ms: number }
  | { ok: false; code: string; message: string };

/** Resolves `host` to all its addresses; fails with code `ETIMEOUT` after `timeoutMs`. */
export function resolveAll(host: string, timeoutMs: number): Promise<ResolveResult> {
  const started = performance.now();
  return new Promise((resolve) => {
    const timer = setTimeout(
      () => resolve({ ok: false, code: "ETIMEOUT", message: `no answer within ${timeoutMs} ms` }),
      timeoutMs,
    );
    lookup(host, { all: true }, (error, addresses) => {
      clearTimeout(timer);
      if (error) {
        const code = (error as { code?: string }).code ?? "EUNKNOWN";
        resolve({ ok: false, code, message: error.message });
        return;
      }
      const seen = new Set<string>();
      const unique = addresses.filter((a) => !seen.has(a.address) && seen.add(a.address));
      resolve({
        ok: true,
        addresses: unique.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 })),
        ms: performance.now() - started,
      });
    });
  });
}

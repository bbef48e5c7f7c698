/**
 * TLS handshakes for `leaf check`: the real one, with the same options the
 * sender uses (`node:tls`, the pinned CA as `ca`, SNI and name check against
 * the gateway host, `rejectUnauthorized: true`), and, only when that fails,
 * one inspection handshake that reads the chain the server presents.
 *
 * @module
 */
import { X509Certificate } from "node:crypto";
import { isIP } from "node:net";
import tls from "node:tls";
import type { Secret } from "../secret.ts";

/** Where and how to shake hands. */
export interface HandshakeOptions {
  /** Address dialled. */
  address: string;
  port: number;
  /** The gateway host: SNI and the name verified (not sent as SNI when an IP). */
  host: string;
  /** Pinned CA PEM. */
  ca: string;
  /** Device certificate and key for x509=true, presented as the sender would. */
  cert?: string;
  key?: Secret;
  timeoutMs: number;
}

/** The outcome of a handshake. */
export type HandshakeResult =
  | { ok: true; chain: X509Certificate[]; protocol: string; ms: number }
  | { ok: false; code: string; message: string; chain: X509Certificate[] };

interface PeerCert {
  raw?: Uint8Array;
  fingerprint256?: string;
  issuerCertificate?: PeerCert;
}

/** The chain from `getPeerCertificate(true)`, leaf first, each certificate once. */
function peerChain(socket: tls.TLSSocket): X509Certificate[] {
  const out: X509Certificate[] = [];
  const seen = new Set<string>();
  let cur = socket.getPeerCertificate(true) as PeerCert | undefined;
  while (cur?.raw && cur.fingerprint256 && !seen.has(cur.fingerprint256) && out.length < 16) {
    seen.add(cur.fingerprint256);
    try {
      out.push(new X509Certificate(cur.raw));
    } catch {
      break;
    }
    cur = cur.issuerCertificate;
  }
  return out;
}

function handshake(o: HandshakeOptions, verify: boolean): Promise<HandshakeResult> {
  const started = performance.now();
  return new Promise((resolve) => {
    const socket = tls.connect({
      host: o.address,
      port: o.port,
      ...(isIP(o.host) === 0 ? { servername: o.host } : {}),
      ca: o.ca,
      ...(o.cert ? { cert: o.cert } : {}),
      ...(o.key ? { key: o.key.reveal() } : {}),
      rejectUnauthorized: verify,
    });
    let done = false;
    const finish = (result: HandshakeResult) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() =>
      finish({
        ok: false,
        code: "ETIMEDOUT",
        message: `no TLS handshake within ${o.timeoutMs} ms`,
        chain: [],
      }), o.timeoutMs);
    socket.once("secureConnect", () => {
      const chain = peerChain(socket);
      if (verify || socket.authorized) {
        finish({
          ok: true,
          chain,
          protocol: socket.getProtocol() ?? "TLS",
          ms: performance.now() - started,
        });
      } else {
        const reason = socket.authorizationError;
        const code = typeof reason === "string" ? reason : (reason as { code?: string })?.code;
        finish({ ok: false, code: code ?? "UNVERIFIED", message: String(reason), chain });
      }
    });
    // `on`, not `once`: a second error after `finish` must not go unhandled.
    socket.on(
      "error",
      (error: Error & { code?: string }) =>
        finish({ ok: false, code: error.code ?? "EUNKNOWN", message: error.message, chain: [] }),
    );
  });
}

/** The handshake the sender would make: verified against the pinned CA and the host name. */
export function verifiedHandshake(o: HandshakeOptions): Promise<HandshakeResult> {
  return handshake(o, true);
}

/**
 * One handshake that accepts any certificate, only to read the presented
 * chain after {@linkcode verifiedHandshake} failed.
 *
 * This is not a TLS bypass: the socket is destroyed as soon as the handshake
 * completes and nothing is ever written on it — no MQTT CONNECT, no SAS
 * token, no device certificate (it is left out here), no data — so an
 * impostor learns only that a client connected. The verdict on the chain is
 * `diagnoseChain`'s, and the check still fails; no later step runs.
 */
export function inspectionHandshake(o: HandshakeOptions): Promise<HandshakeResult> {
  const { cert: _cert, key: _key, ...withoutClientCert } = o;
  return handshake(withoutClientCert, false);
}

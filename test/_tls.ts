/**
 * Purpose-made TLS endpoints for failure tests: a server that presents any
 * chain we choose (wrong root, wrong SAN, expired, missing intermediate) and
 * closes after the handshake. Each test makes its own CA chain.
 *
 * @module
 */
import tls from "node:tls";
import { issueCertificate, type IssuedCertificate } from "../lib/trust/issue_certificate.ts";

/** A root → intermediate → server chain made for one test. */
export interface TestPki {
  root: IssuedCertificate;
  intermediate: IssuedCertificate;
  /** Issues a server certificate under the intermediate. */
  server(
    options?: { altNames?: string[]; notBefore?: Date; notAfter?: Date },
  ): Promise<IssuedCertificate>;
}

const DAY = 86_400_000;

/** Creates a root and an intermediate CA. */
export async function createPki(name = "Test"): Promise<TestPki> {
  const root = await issueCertificate({ commonName: `${name} Root`, isCa: true });
  const intermediate = await issueCertificate({
    commonName: `${name} Intermediate`,
    isCa: true,
    issuer: { cert: root.cert, key: root.key },
  });
  return {
    root,
    intermediate,
    server: (o = {}) =>
      issueCertificate({
        commonName: o.altNames?.[0] ?? "localhost",
        altNames: o.altNames ?? ["localhost"],
        extKeyUsage: ["serverAuth"],
        issuer: { cert: intermediate.cert, key: intermediate.key },
        notBefore: o.notBefore ?? new Date(Date.now() - DAY),
        notAfter: o.notAfter ?? new Date(Date.now() + 30 * DAY),
      }),
  };
}

/** A TLS server that completes (or fails) the handshake and then closes. */
export interface TlsEndpoint extends AsyncDisposable {
  port: number;
}

/** Serves `chainPem` (leaf first) with `keyPem` on 127.0.0.1, port 0. */
export async function serveTls(chainPem: string, keyPem: string): Promise<TlsEndpoint> {
  const sockets = new Set<tls.TLSSocket>();
  const server = tls.createServer({ cert: chainPem, key: keyPem }, (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    socket.end();
  });
  server.on("tlsClientError", () => {});
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    async [Symbol.asyncDispose]() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

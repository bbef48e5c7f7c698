/**
 * A plain TCP connect to one address and port, with a deadline, and the
 * words for each way it fails: refused (nothing listens), timed out
 * (something drops the packets), unreachable (no route).
 *
 * @module
 */
import net from "node:net";

/** The outcome of {@linkcode probeTcp}. */
export type TcpResult =
  | { ok: true; ms: number }
  | { ok: false; code: string; message: string };

/** Connects to `address:port` and closes at once; `ETIMEDOUT` after `timeoutMs`. */
export function probeTcp(address: string, port: number, timeoutMs: number): Promise<TcpResult> {
  const started = performance.now();
  return new Promise((resolve) => {
    const socket = net.connect({ host: address, port });
    let done = false;
    const finish = (result: TcpResult) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(
      () => finish({ ok: false, code: "ETIMEDOUT", message: `no answer within ${timeoutMs} ms` }),
      timeoutMs,
    );
    socket.once("connect", () => finish({ ok: true, ms: performance.now() - started }));
    socket.once(
      "error",
      (error: Error & { code?: string }) =>
        finish({ ok: false, code: error.code ?? "EUNKNOWN", message: error.message }),
    );
  });
}

/** A one-line finding and the fix for a failed TCP connect. Pure. */
export function explainTcpError(
  code: string,
  address: string,
  port: number,
  timeoutMs: number,
): { finding: string; fix: string } {
  const where = `${address.includes(":") ? `[${address}]` : address}:${port}`;
  switch (code) {
    case "ECONNREFUSED":
      return {
        finding: `${where}: connection refused (nothing listens on port ${port})`,
        fix:
          `is edgeHub running and publishing port ${port} (\`sudo iotedge list\`)? check the gateway's firewall for ${port}, and the port in GatewayHostName or --port`,
      };
    case "ETIMEDOUT":
      return {
        finding: `${where}: no answer within ${
          Math.round(timeoutMs / 100) / 10
        } s (packets dropped)`,
        fix:
          `check the firewall for ${port} on the gateway and on the way to it, and that ${address} is the gateway`,
      };
    case "EHOSTUNREACH":
    case "EHOSTDOWN":
      return {
        finding: `${where}: host unreachable`,
        fix: `check that the gateway is up and on this network (\`ip route get ${address}\`)`,
      };
    case "ENETUNREACH":
    case "ENETDOWN":
    case "EADDRNOTAVAIL":
      return {
        finding: `${where}: network unreachable (${code})`,
        fix: `this device has no route to ${address}: check its network link and addresses`,
      };
    default:
      return {
        finding: `${where}: connect failed (${code})`,
        fix: `check the network path and the firewall for ${port}`,
      };
  }
}

/**
 * Servers on the wrong port, as a device meets them when the port number is
 * wrong: an HTTP server, a plain TCP service that reads the ClientHello and
 * hangs up, and Mosquitto's plain MQTT listener (1883). Each on a free
 * loopback port, stopped by `await using`.
 *
 * @module
 */
import { startMosquitto } from "../../tasks/_mosquitto.ts";

/** A server on a loopback port. */
export interface Endpoint extends AsyncDisposable {
  port: number;
}

/** An HTTP server (`Deno.serve`): it answers a ClientHello with a non-TLS record. */
export function serveHttp(): Endpoint {
  const stop = new AbortController();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: stop.signal, onListen() {} },
    () => new Response("not MQTT\n"),
  );
  return {
    port: server.addr.port,
    async [Symbol.asyncDispose]() {
      stop.abort();
      await server.finished;
    },
  };
}

/** A plain TCP service that reads what the client sends first, then closes. */
export function serveReadAndClose(): Endpoint {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const open = new Set<Promise<void>>();
  const loop = (async () => {
    for await (const conn of listener) {
      const done = (async () => {
        try {
          await conn.read(new Uint8Array(4096));
        } catch { /* reset by the client */ }
        conn.close();
      })();
      open.add(done);
      done.finally(() => open.delete(done));
    }
  })().catch(() => {/* the listener closed */});
  return {
    port: (listener.addr as Deno.NetAddr).port,
    async [Symbol.asyncDispose]() {
      listener.close();
      await loop;
      await Promise.all(open);
    },
  };
}

/** Mosquitto with one plain (non-TLS) MQTT listener, anonymous, config in `dir`. */
export function startPlainMosquitto(dir: string): Promise<Endpoint> {
  return startMosquitto({ dir });
}

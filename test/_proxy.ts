/**
 * A TCP relay between a client and a server that can freeze: bytes stop
 * flowing in both directions while both sockets stay open — a half-open
 * link, as after a Wi-Fi drop or a NAT timeout, which only keep-alives and
 * acknowledgement deadlines can detect.
 *
 * @module
 */

/** A running relay. */
export interface FreezableProxy extends AsyncDisposable {
  port: number;
  /** Stops forwarding on every current connection (sockets stay open). */
  freeze(): void;
  /** Forwards again; connections made while frozen are relayed normally. */
  thaw(): void;
  /** Connections accepted so far. */
  readonly accepted: number;
}

/** Relays 127.0.0.1:port → 127.0.0.1:target. */
export function startProxy(target: number): FreezableProxy {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  let frozenGeneration = -1;
  let generation = 0;
  let accepted = 0;
  const tasks = new Set<Promise<void>>();

  const pipe = async (from: Deno.Conn, to: Deno.Conn, born: number) => {
    const buf = new Uint8Array(16 * 1024);
    try {
      while (true) {
        const n = await from.read(buf);
        if (n === null) break;
        // Frozen: swallow what arrives, forward nothing, close nothing.
        if (born <= frozenGeneration) continue;
        let off = 0;
        while (off < n) off += await to.write(buf.subarray(off, n));
      }
    } catch { /* one side closed */ }
    if (born > frozenGeneration) {
      try {
        to.closeWrite();
      } catch { /* gone */ }
    }
  };

  const accept = (async () => {
    for await (const client of listener) {
      accepted++;
      const born = generation;
      let server: Deno.Conn;
      try {
        server = await Deno.connect({ hostname: "127.0.0.1", port: target });
      } catch {
        client.close();
        continue;
      }
      conns.add(client);
      conns.add(server);
      const t = Promise.all([pipe(client, server, born), pipe(server, client, born)]).then(() => {
        for (const c of [client, server]) {
          conns.delete(c);
          try {
            c.close();
          } catch { /* closed */ }
        }
      });
      tasks.add(t);
      t.finally(() => tasks.delete(t));
    }
  })();

  return {
    port: (listener.addr as Deno.NetAddr).port,
    freeze() {
      frozenGeneration = generation;
      generation++;
    },
    thaw() {
      frozenGeneration = -1;
    },
    get accepted() {
      return accepted;
    },
    async [Symbol.asyncDispose]() {
      listener.close();
      await accept.catch(() => {});
      for (const c of conns) {
        try {
          c.close();
        } catch { /* closed */ }
      }
      await Promise.all(tasks);
    },
  };
}

/**
 * The socket side of an MQTT session: write coalescing, and the time of the
 * last write for the keep-alive.
 *
 * @module
 */
import type tls from "node:tls";

/** Every packet written in one turn of the event loop leaves in one TLS write. */
export class Wire {
  #queue: Uint8Array[] = [];
  #scheduled = false;
  lastWrite = performance.now();

  constructor(readonly socket: tls.TLSSocket) {}

  write(bytes: Uint8Array): void {
    this.#queue.push(bytes);
    this.lastWrite = performance.now();
    if (this.#scheduled) return;
    this.#scheduled = true;
    queueMicrotask(() => this.flush());
  }

  flush(): void {
    this.#scheduled = false;
    const parts = this.#queue;
    if (parts.length === 0 || this.socket.destroyed) return;
    this.#queue = [];
    if (parts.length === 1) {
      this.socket.write(parts[0]);
      return;
    }
    let size = 0;
    for (const p of parts) size += p.length;
    const all = new Uint8Array(size);
    let at = 0;
    for (const p of parts) {
      all.set(p, at);
      at += p.length;
    }
    this.socket.write(all);
  }
}

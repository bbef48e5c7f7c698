/**
 * One MQTT 3.1.1 connection over TLS to the gateway, with the root CA pinned
 * in memory (`node:tls` `ca` replaces the OS roots for this socket).
 *
 * leaf speaks the protocol itself (packets in `mqtt_codec.ts`) rather than
 * through `npm:mqtt`: a device client needs a small subset, and measured on
 * this runtime mqtt.js costs ~75 ms of import time and ~14 MiB of pre-allocated
 * buffers, and can crash the process on a PUBACK that arrives after a forced
 * close (BENCHMARKS.md, issue notes).
 *
 * `MqttSession.open()` resolves on CONNACK 0 or rejects with a classified
 * {@linkcode LeafError} (exit codes of CLI.md); `publish()` resolves on PUBACK
 * and rejects when the connection is lost or the PUBACK deadline passes, which
 * also tears the connection down (a half-open link must not look alive). The
 * keep-alive detects a silent idle link within 2 × keep-alive.
 *
 * @module
 */
import { LeafError, UnreachableError } from "../errors.ts";
import type { Secret } from "../secret.ts";
import { classifySession } from "./_session_errors.ts";
import type { Wire } from "./_wire.ts";
import { dial } from "./_dial.ts";
import {
  DISCONNECT,
  encodePuback,
  encodePublish,
  encodePublishText,
  encodeSubscribe,
  type Packet,
  PacketReader,
  PINGREQ,
  ProtocolError,
  topicBytes,
} from "./mqtt_codec.ts";

/** Options of {@linkcode MqttSession.open}. */
export interface SessionOptions {
  /** Gateway host name: SNI and the name verified in the server certificate. */
  host: string;
  /** Address to dial instead of `host` (an IP when DNS is missing). */
  address?: string;
  /** TCP port. @default 8883 */
  port: number;
  /** Pinned root CA PEM (replaces the OS store for this connection). */
  ca: string;
  /** Pinned CA file name, for messages. */
  caFile?: string;
  /** Device certificate chain PEM, for X.509 authentication. */
  cert?: string;
  /** Device private key PEM, for X.509 authentication. */
  key?: Secret;
  clientId: string;
  username: string;
  /** SAS token; absent for X.509. */
  password?: Secret;
  /** MQTT keep-alive in seconds. @default 60 */
  keepAliveSeconds: number;
  /** Give up when no CONNACK arrives within this many ms (TCP + TLS + CONNECT). @default 30000 */
  connectTimeoutMs: number;
  /** PUBACK deadline in ms; a publish older than this tears the link down. @default 30000 */
  ackTimeoutMs: number;
  /** MQTT clean session. @default false (as IoT Hub's SDKs) */
  clean?: boolean;
}

/** Handler for messages the gateway sends us. */
export type MessageHandler = (topic: string, payload: Uint8Array) => void;

interface Pending {
  at: number;
  resolve: () => void;
  reject: (e: LeafError | Error) => void;
}

const encoder = new TextEncoder();

/** A connected MQTT session. */
export class MqttSession {
  readonly #wire: Wire;
  readonly #options: SessionOptions;
  readonly #pending = new Map<number, Pending>();
  readonly #subacks = new Map<number, (granted: number[]) => void>();
  #nextId = 0;
  #ticker: ReturnType<typeof setInterval> | undefined;
  #pingSentAt: number | undefined;
  #closeReason: LeafError | Error | undefined;
  #ended = false;
  #gone = false;
  #handlers: MessageHandler[] = [];
  readonly #closed: Promise<LeafError | Error | undefined>;

  private constructor(wire: Wire, reader: PacketReader, options: SessionOptions) {
    this.#wire = wire;
    this.#options = options;
    const socket = wire.socket;
    socket.removeAllListeners("data");
    socket.on("data", (chunk: Uint8Array) => {
      let packets: Packet[];
      try {
        packets = reader.push(chunk);
      } catch (error) {
        this.destroy(classifySession(error, options) as LeafError);
        return;
      }
      for (const p of packets) this.#onPacket(p);
    });
    socket.on("error", (error: Error) => {
      this.#closeReason ??= classifySession(error, options);
    });
    this.#closed = new Promise((resolve) => {
      socket.once("close", () => {
        this.#gone = true;
        this.#stopTicker();
        const reason = this.#ended ? undefined : this.#closeReason ?? new UnreachableError(
          `The gateway "${options.host}:${options.port}" closed the connection`,
          { code: "closed" },
        );
        this.#failAll(
          reason ?? new UnreachableError("The connection was closed", { code: "closed" }),
        );
        resolve(reason);
      });
    });
    this.#startTicker();
  }

  /** Connects and resolves once the gateway accepted CONNECT. */
  static async open(options: SessionOptions): Promise<MqttSession> {
    const { wire, reader, after } = await dial(options);
    const session = new MqttSession(wire, reader, options);
    // Anything that arrived in the same chunk as the CONNACK.
    for (const p of after) session.#onPacket(p);
    return session;
  }

  /** Resolves when the connection is gone: undefined after `end()`, else the reason. */
  get closed(): Promise<LeafError | Error | undefined> {
    return this.#closed;
  }

  /** Publishes awaiting their PUBACK. */
  get inFlight(): number {
    return this.#pending.size;
  }

  /** Registers a handler for incoming messages (twin, methods, C2D). */
  onMessage(handler: MessageHandler): void {
    this.#handlers.push(handler);
  }

  /** Publishes; QoS 1 resolves on PUBACK, QoS 0 once queued for writing. */
  publish(topic: string, payload: string | Uint8Array, qos: 0 | 1 = 1): Promise<void> {
    if (this.#gone || this.#ended) {
      return Promise.reject(
        this.#closeReason ?? new UnreachableError("The connection is closed", { code: "closed" }),
      );
    }
    if (qos === 0) {
      const body = typeof payload === "string" ? encoder.encode(payload) : payload;
      this.#wire.write(encodePublish(topicBytes(topic), body, 0));
      return Promise.resolve();
    }
    const id = this.#allocateId();
    const packet = typeof payload === "string"
      ? encodePublishText(topic, payload, id)
      : encodePublish(topicBytes(topic), payload, 1, id);
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { at: performance.now(), resolve, reject });
      this.#wire.write(packet);
    });
  }

  /** Subscribes; resolves to the granted QoS per filter (128 = refused). */
  subscribe(filters: { topic: string; qos: 0 | 1 }[]): Promise<number[]> {
    if (this.#gone) return Promise.reject(this.#closeReason);
    const id = this.#allocateId();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#subacks.delete(id);
        reject(new UnreachableError("No SUBACK from the gateway", { code: "timeout" }));
      }, this.#options.ackTimeoutMs);
      this.#subacks.set(id, (granted) => {
        clearTimeout(timer);
        resolve(granted);
      });
      this.#closed.then(() => {
        if (this.#subacks.delete(id)) {
          clearTimeout(timer);
          reject(
            this.#closeReason ??
              new UnreachableError("The connection was closed", { code: "closed" }),
          );
        }
      });
      this.#wire.write(encodeSubscribe(id, filters));
    });
  }

  /** Sends DISCONNECT and closes; waits at most `timeoutMs`. */
  async end(timeoutMs = 2_000): Promise<void> {
    if (this.#ended) return void await this.#closed;
    this.#ended = true;
    this.#stopTicker();
    const socket = this.#wire.socket;
    if (!this.#gone) {
      this.#wire.write(DISCONNECT);
      this.#wire.flush();
      socket.end();
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      this.#closed,
      new Promise<void>((r) => timer = setTimeout(r, timeoutMs)),
    ]);
    clearTimeout(timer);
    socket.destroy();
    await this.#closed;
  }

  /** Drops the connection at once (no DISCONNECT), failing in-flight publishes. */
  destroy(reason: LeafError): void {
    this.#closeReason ??= reason;
    this.#wire.socket.destroy();
  }

  #onPacket(p: Packet): void {
    switch (p.type) {
      case "puback": {
        const pending = this.#pending.get(p.packetId);
        if (!pending) return; // a late or duplicate PUBACK: harmless
        this.#pending.delete(p.packetId);
        pending.resolve();
        return;
      }
      case "publish":
        for (const h of this.#handlers) {
          try {
            h(p.topic, p.payload);
          } catch { /* a handler's bug must not break the connection */ }
        }
        if (p.qos >= 1 && p.packetId !== undefined) this.#wire.write(encodePuback(p.packetId));
        return;
      case "suback": {
        const done = this.#subacks.get(p.packetId);
        this.#subacks.delete(p.packetId);
        done?.(p.granted);
        return;
      }
      case "pingresp":
        this.#pingSentAt = undefined;
        return;
      case "connack":
        this.destroy(
          classifySession(new ProtocolError("a second CONNACK"), this.#options) as LeafError,
        );
        return;
      case "unsuback":
        return;
    }
  }

  #allocateId(): number {
    for (let i = 0; i < 65_535; i++) {
      this.#nextId = this.#nextId >= 65_535 ? 1 : this.#nextId + 1;
      if (!this.#pending.has(this.#nextId) && !this.#subacks.has(this.#nextId)) return this.#nextId;
    }
    throw new Error("all 65535 MQTT packet ids are in flight");
  }

  #failAll(reason: LeafError | Error): void {
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of pending) p.reject(reason);
  }

  /**
   * One timer for both deadlines: the oldest PUBACK, and the keep-alive
   * (PINGREQ after 3/4 of the keep-alive without writing; the link is dead
   * when its PINGRESP has not come 3/4 of a keep-alive later).
   */
  #startTicker(): void {
    const keepAliveMs = this.#options.keepAliveSeconds * 1000;
    const every = Math.max(
      50,
      Math.min(1_000, this.#options.ackTimeoutMs / 4, keepAliveMs > 0 ? keepAliveMs / 4 : 1_000),
    );
    this.#ticker = setInterval(() => this.#tick(keepAliveMs), every);
  }

  #stopTicker(): void {
    if (this.#ticker !== undefined) clearInterval(this.#ticker);
    this.#ticker = undefined;
  }

  #tick(keepAliveMs: number): void {
    const now = performance.now();
    const oldest = this.#pending.values().next();
    if (!oldest.done && now - oldest.value.at > this.#options.ackTimeoutMs) {
      this.destroy(
        new UnreachableError(
          `No PUBACK from "${this.#options.host}:${this.#options.port}" within ${
            Math.round(this.#options.ackTimeoutMs / 1000)
          } s: the link is dead`,
          { code: "ack_timeout" },
        ),
      );
      return;
    }
    if (keepAliveMs <= 0) return;
    if (this.#pingSentAt !== undefined) {
      if (now - this.#pingSentAt > keepAliveMs * 0.75) {
        this.destroy(
          new UnreachableError(
            `The link to "${this.#options.host}:${this.#options.port}" went silent (no PINGRESP within ${
              Math.round(keepAliveMs * 0.75 / 1000)
            } s)`,
            { code: "keepalive" },
          ),
        );
      }
      return;
    }
    if (now - this.#wire.lastWrite >= keepAliveMs * 0.75) {
      this.#pingSentAt = now;
      this.#wire.write(PINGREQ);
    }
  }
}

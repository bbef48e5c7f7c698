/**
 * One MQTT 3.1.1 connection over TLS to the gateway, with the root CA pinned
 * in memory. The only module that imports `npm:mqtt`.
 *
 * `MqttSession.open()` resolves on CONNACK or rejects with a classified
 * {@linkcode LeafError} (exit codes of CLI.md); `publish()` resolves on PUBACK
 * and rejects when the connection is lost or the PUBACK deadline passes, which
 * also tears the connection down (a half-open link must not look alive).
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { isIP } from "node:net";
import mqtt from "mqtt";
import { LeafError, UnreachableError } from "../errors.ts";
import type { Secret } from "../secret.ts";
import { classifyConnectError, type DialContext } from "./classify.ts";

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

interface Pending {
  at: number;
  resolve: () => void;
  reject: (e: LeafError) => void;
}

/** Handler for messages the gateway sends us. */
export type MessageHandler = (topic: string, payload: Uint8Array) => void;

function dialContext(o: SessionOptions): DialContext {
  return {
    host: o.host,
    port: o.port,
    ...(o.address ? { address: o.address } : {}),
    ...(o.caFile ? { caFile: o.caFile } : {}),
  };
}

function classify(error: unknown, o: SessionOptions): LeafError | Error {
  if (error instanceof LeafError) return error;
  const known = classifyConnectError(error, dialContext(o));
  if (known) return known;
  const message = error instanceof Error ? error.message : String(error);
  if (/connack timeout/i.test(message)) {
    return new UnreachableError(
      `No CONNACK from "${o.host}:${o.port}" within ${Math.round(o.connectTimeoutMs / 1000)} s`,
      {
        code: "timeout",
        hint: "the gateway accepted TCP but did not answer MQTT CONNECT: check edgeHub's logs",
        cause: error,
      },
    );
  }
  if (/keepalive timeout/i.test(message)) {
    return new UnreachableError(
      `The link to "${o.host}:${o.port}" went silent (keep-alive timeout)`,
      {
        code: "keepalive",
        cause: error,
      },
    );
  }
  return error instanceof Error ? error : new Error(message);
}

/** A connected MQTT session. */
export class MqttSession {
  readonly #client: mqtt.MqttClient;
  readonly #options: SessionOptions;
  readonly #pending = new Map<number, Pending>();
  #nextId = 0;
  #ticker: ReturnType<typeof setInterval> | undefined;
  #closeReason: LeafError | Error | undefined;
  #ended = false;
  #handlers: MessageHandler[] = [];
  readonly #closed: Promise<LeafError | Error | undefined>;

  private constructor(client: mqtt.MqttClient, options: SessionOptions) {
    this.#client = client;
    this.#options = options;
    this.#closed = new Promise((resolve) => {
      client.on("error", (e) => {
        this.#closeReason ??= classify(e, options);
      });
      client.once("close", () => {
        const reason = this.#ended ? undefined : this.#closeReason ?? new UnreachableError(
          `The gateway "${options.host}:${options.port}" closed the connection`,
          { code: "closed" },
        );
        this.#failAll(
          reason ?? new UnreachableError("The connection was closed", { code: "closed" }),
        );
        this.#stopTicker();
        client.end(true);
        resolve(reason);
      });
    });
    client.on("message", (topic, payload) => {
      for (const h of this.#handlers) h(topic, payload);
    });
  }

  /** Connects and resolves once the gateway accepted CONNECT. */
  static open(options: SessionOptions): Promise<MqttSession> {
    return new Promise((resolve, reject) => {
      const client = mqtt.connect({
        protocol: "mqtts",
        host: options.address ?? options.host,
        port: options.port,
        // SNI and the name checked; an IP gateway is checked against its IP SAN.
        ...(isIP(options.host) === 0 ? { servername: options.host } : {}),
        ca: options.ca,
        ...(options.cert ? { cert: options.cert } : {}),
        ...(options.key ? { key: options.key.reveal() } : {}),
        rejectUnauthorized: true,
        clientId: options.clientId,
        username: options.username,
        ...(options.password ? { password: options.password.reveal() } : {}),
        protocolVersion: 4,
        clean: options.clean ?? false,
        keepalive: options.keepAliveSeconds,
        reconnectPeriod: 0,
        connectTimeout: options.connectTimeoutMs,
        resubscribe: false,
        queueQoSZero: false,
      });
      let firstError: unknown;
      let settled = false;
      const onError = (e: unknown) => {
        firstError ??= e;
      };
      const onClose = () => {
        // mqtt.js may report the cause just after the socket closes.
        setTimeout(() => {
          if (settled) return;
          settled = true;
          client.removeListener("error", onError);
          client.end(true);
          reject(
            firstError === undefined
              ? new UnreachableError(
                `The gateway "${options.host}:${options.port}" closed the connection before answering CONNECT`,
                { code: "closed", hint: "run `leaf check` to see where it fails" },
              )
              : classify(firstError, options),
          );
        }, 0);
      };
      client.on("error", onError);
      client.once("close", onClose);
      client.once("connect", () => {
        if (settled) return;
        settled = true;
        client.removeListener("error", onError);
        client.removeListener("close", onClose);
        resolve(new MqttSession(client, options));
      });
    });
  }

  /** Resolves when the connection is gone: undefined after `end()`, else the reason. */
  get closed(): Promise<LeafError | Error | undefined> {
    return this.#closed;
  }

  /** Publishes awaiting neither ack nor deadline. */
  get inFlight(): number {
    return this.#pending.size;
  }

  /** Registers a handler for incoming messages (twin, methods, C2D). */
  onMessage(handler: MessageHandler): void {
    this.#handlers.push(handler);
  }

  /** Publishes; QoS 1 resolves on PUBACK, QoS 0 once written. */
  publish(topic: string, payload: string | Uint8Array, qos: 0 | 1 = 1): Promise<void> {
    if (this.#closeReason && !this.#client.connected) {
      return Promise.reject(this.#closeReason);
    }
    return new Promise((resolve, reject) => {
      const id = ++this.#nextId;
      this.#pending.set(id, { at: performance.now(), resolve, reject });
      this.#armTicker();
      this.#client.publish(
        topic,
        typeof payload === "string"
          ? payload
          : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength),
        { qos },
        (err) => {
          const p = this.#pending.get(id);
          if (!p) return;
          this.#pending.delete(id);
          if (err) p.reject(classify(err, this.#options) as LeafError);
          else p.resolve();
        },
      );
    });
  }

  /** Subscribes; resolves to the granted QoS per filter (128 = refused). */
  async subscribe(filters: { topic: string; qos: 0 | 1 }[]): Promise<number[]> {
    const granted = await this.#client.subscribeAsync(
      Object.fromEntries(filters.map((f) => [f.topic, { qos: f.qos }])),
    );
    return granted.map((g) => g.qos);
  }

  /** Sends DISCONNECT and closes; waits at most `timeoutMs`. */
  async end(timeoutMs = 2_000): Promise<void> {
    if (this.#ended) return;
    this.#ended = true;
    this.#stopTicker();
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      this.#client.endAsync(false).catch(() => {}),
      new Promise<void>((r) => timer = setTimeout(r, timeoutMs)),
    ]);
    clearTimeout(timer);
    this.#client.end(true);
    await this.#closed;
  }

  /** Drops the connection at once (no DISCONNECT), failing in-flight publishes. */
  destroy(reason: LeafError): void {
    this.#closeReason ??= reason;
    this.#client.end(true);
  }

  #failAll(reason: LeafError | Error): void {
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of pending) p.reject(reason as LeafError);
  }

  #armTicker(): void {
    if (this.#ticker !== undefined) return;
    const every = Math.max(50, Math.min(1_000, this.#options.ackTimeoutMs / 4));
    this.#ticker = setInterval(() => this.#checkDeadline(), every);
  }

  #stopTicker(): void {
    if (this.#ticker !== undefined) clearInterval(this.#ticker);
    this.#ticker = undefined;
  }

  #checkDeadline(): void {
    const oldest = this.#pending.values().next();
    if (oldest.done) {
      this.#stopTicker();
      return;
    }
    if (performance.now() - oldest.value.at > this.#options.ackTimeoutMs) {
      this.destroy(
        new UnreachableError(
          `No PUBACK from "${this.#options.host}:${this.#options.port}" within ${
            Math.round(this.#options.ackTimeoutMs / 1000)
          } s: the link is dead`,
          { code: "ack_timeout" },
        ),
      );
    }
  }
}

/**
 * One authenticated device connection at the dev gateway: its identity, its
 * subscriptions, messages sent to it awaiting PUBACK, and the timer that
 * closes it when its credential expires (edgeHub re-authenticates connected
 * clients and drops those whose SAS token has passed `se`, §2.2).
 *
 * @module
 */
import type { Identity } from "../iothub/topics.ts";
import { classifySubscription, identityId, type SubscriptionKind } from "./acl.ts";
import { encodePublish } from "./_frames.ts";
import type { DeviceAuthKind } from "./registry.ts";

/** The parts of an aedes client a session uses. */
export interface MqttClientHandle {
  conn: { write(data: Uint8Array): unknown; destroyed?: boolean };
  /** Active subscriptions by filter (aedes keeps this on every client). */
  subscriptions: Record<string, { qos: number }>;
  close(done?: () => void): void;
}

/** The longest delay `setTimeout` supports. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** An authenticated connection. */
export class DeviceSession {
  readonly identity: Identity;
  /** `device` or `device/module`. */
  readonly id: string;
  readonly auth: DeviceAuthKind;
  readonly connectedAt: Date;
  /** When the credential expires, ms since the epoch. */
  readonly expiresAt?: number;
  #client: MqttClientHandle;
  #nextId = 1;
  #pending = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  #timer?: ReturnType<typeof setTimeout>;
  #closed = false;

  constructor(
    client: MqttClientHandle,
    identity: Identity,
    auth: DeviceAuthKind,
    expiresAt: number | undefined,
    onExpire: (session: DeviceSession) => void,
  ) {
    this.#client = client;
    this.identity = identity;
    this.id = identityId(identity);
    this.auth = auth;
    this.connectedAt = new Date();
    this.expiresAt = expiresAt;
    if (expiresAt !== undefined) {
      const arm = () => {
        const delay = expiresAt - Date.now();
        this.#timer = setTimeout(
          () => delay > MAX_TIMER_MS ? arm() : onExpire(this),
          Math.max(0, Math.min(delay, MAX_TIMER_MS)),
        );
      };
      arm();
    }
  }

  /** Whether this session is over. */
  get closed(): boolean {
    return this.#closed;
  }

  /** The QoS (0 or 1) of a subscription of `kind`, or undefined when there is none. */
  subscriptionQos(kind: SubscriptionKind): 0 | 1 | undefined {
    for (const [filter, sub] of Object.entries(this.#client.subscriptions)) {
      if (classifySubscription(this.identity, filter) === kind) return sub.qos > 0 ? 1 : 0;
    }
    return undefined;
  }

  /**
   * Publishes to the device. QoS 0 resolves once written; QoS 1 resolves on
   * the device's PUBACK and rejects if the connection ends first.
   */
  send(topic: string, payload: Uint8Array | string, qos: 0 | 1, dup = false): Promise<void> {
    if (this.#closed || this.#client.conn.destroyed) {
      return Promise.reject(new Error(`${this.id} is not connected`));
    }
    const bytes = typeof payload === "string" ? new TextEncoder().encode(payload) : payload;
    if (qos === 0) {
      this.#client.conn.write(encodePublish({ topic, payload: bytes, qos }));
      return Promise.resolve();
    }
    const messageId = this.#allocateId();
    return new Promise<void>((resolve, reject) => {
      this.#pending.set(messageId, { resolve, reject });
      this.#client.conn.write(encodePublish({ topic, payload: bytes, qos, messageId, dup }));
    });
  }

  #allocateId(): number {
    for (let i = 0; i < 0xffff; i++) {
      const id = this.#nextId;
      this.#nextId = id === 0xffff ? 1 : id + 1;
      if (!this.#pending.has(id)) return id;
    }
    throw new Error(`${this.id} has 65535 unacknowledged messages`);
  }

  /** Called with every PUBACK the device sends. */
  onPuback(messageId: number): void {
    const waiter = this.#pending.get(messageId);
    if (!waiter) return;
    this.#pending.delete(messageId);
    waiter.resolve();
  }

  /** Closes the connection (aedes tears it down; {@linkcode end} follows). */
  close(): void {
    this.#client.close();
  }

  /** Releases the session once its socket has closed. */
  end(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    const error = new Error(`${this.id} disconnected`);
    for (const waiter of this.#pending.values()) waiter.reject(error);
    this.#pending.clear();
  }
}

/**
 * What the dev gateway has seen: per-identity counters, a ring buffer of
 * recent telemetry (for the admin API and the live page) and an event hook
 * for tests and tools.
 *
 * @module
 */
import type { ConnackCode } from "./auth.ts";
import type { DeviceAuthKind } from "./registry.ts";
import type { TelemetryRecord } from "./telemetry_log.ts";

/** Something that happened at the gateway. */
export type GatewayEvent =
  | { type: "connected"; id: string; auth: DeviceAuthKind }
  | { type: "refused"; who: string; code: ConnackCode; reason: string }
  | { type: "closed"; id: string; reason: string }
  | { type: "disconnected"; id: string }
  | { type: "telemetry"; record: TelemetryRecord; seq: number }
  | { type: "dropped"; id: string; reason: string };

/** A telemetry record with its gateway-wide sequence number (1, 2, ...). */
export type NumberedRecord = TelemetryRecord & { seq: number };

/** Counters of one identity. */
export interface IdentityCounters {
  received: number;
  dropped: number;
  lastMessageAt?: string;
}

/** How many telemetry records the ring buffer keeps. */
export const RECENT_TELEMETRY = 1000;

/** Counters, recent telemetry and listeners. */
export class Monitor {
  #ring: NumberedRecord[] = [];
  #seq = 0;
  #counters = new Map<string, IdentityCounters>();
  #listeners = new Set<(event: GatewayEvent) => void>();
  #totals = { received: 0, dropped: 0 };

  /** Adds a listener; returns the function that removes it. */
  on(listener: (event: GatewayEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Tells every listener; a throwing listener does not stop the gateway. */
  emit(event: GatewayEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch (error) {
        console.error("gateway event listener failed:", error);
      }
    }
  }

  #of(id: string): IdentityCounters {
    let c = this.#counters.get(id);
    if (!c) this.#counters.set(id, c = { received: 0, dropped: 0 });
    return c;
  }

  /** Records an accepted telemetry message. */
  received(id: string, record: TelemetryRecord): void {
    const seq = ++this.#seq;
    this.#ring.push({ seq, ...record });
    if (this.#ring.length > RECENT_TELEMETRY) this.#ring.shift();
    const c = this.#of(id);
    c.received++;
    c.lastMessageAt = record.receivedAt;
    this.#totals.received++;
    this.emit({ type: "telemetry", record, seq });
  }

  /** Counts a message that was acknowledged and dropped. */
  dropped(id: string, reason: string): void {
    this.#of(id).dropped++;
    this.#totals.dropped++;
    this.emit({ type: "dropped", id, reason });
  }

  /** Counters of `id` (zeros when it never sent anything). */
  counters(id: string): IdentityCounters {
    return { ...this.#of(id) };
  }

  /** Totals over every identity. */
  totals(): { received: number; dropped: number } {
    return { ...this.#totals };
  }

  /** Recent records with `seq` greater than `since`, and the latest `seq`. */
  since(since = 0): { last: number; messages: NumberedRecord[] } {
    return { last: this.#seq, messages: this.#ring.filter((r) => r.seq > since) };
  }
}

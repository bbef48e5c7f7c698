/**
 * One session's drain loop: takes queued messages from the source in seq
 * order, keeps up to `window` QoS 1 publishes in flight (refilled at half
 * the window, so refills leave in one TLS write), packs ticks when asked,
 * acks the source on each PUBACK, and ends at renewal time, on loss, or
 * on stop (after waiting, bounded, for the window to empty).
 *
 * @module
 */
import type { Logger } from "../log.ts";
import { type Identity, telemetryTopic } from "../iothub/topics.ts";
import { chooseGroup, packedBody, packedTopic, type PackOptions } from "../agent/pack.ts";
import { utf8Length } from "../utf8.ts";
import type { MqttSession } from "./mqtt.ts";

/** A message waiting in the outbox. */
export interface QueuedMessage {
  seq: number;
  mid: string;
  /** When the tick happened, ms since the epoch. */
  created: number;
  /** Encoded property bag (`%24.mid=...&...`). */
  props: string;
  body: string;
}

/** Where the sender takes messages from (the outbox). */
export interface MessageSource {
  /** Committed, unacknowledged messages with `seq > afterSeq`, in order. */
  peek(afterSeq: number, limit: number): QueuedMessage[];
  /** The gateway acknowledged `seq`. */
  ack(seq: number): void;
  /** Calls `listener` when new messages become visible; returns an unsubscribe. */
  onCommitted(listener: () => void): () => void;
}

/** The counters a pump updates. */
export interface PumpStats {
  sent: number;
  acked: number;
  inFlight: number;
}

/** What a pump needs from its sender. */
export interface PumpOptions {
  source: MessageSource;
  identity: Identity;
  log: Logger;
  stats: PumpStats;
  /** In-flight QoS 1 publishes. */
  window: number;
  /** Renew at this fraction of the token's lifetime. */
  renewAt: number;
  /** How long a renewal waits for in-flight PUBACKs, ms. */
  drainTimeoutMs: number;
  pack?: PackOptions;
  now: () => number;
}

/** Why a pump ended. */
export type PumpEnd = { kind: "renew" } | { kind: "stop" } | { kind: "lost"; error: unknown };

/** A running pump. */
export interface Pump {
  /** Settles once, with why the pump ended. */
  readonly done: Promise<PumpEnd>;
  /** No new publishes; ends with "stop" once the window is empty or at `deadline` (performance.now()). */
  stop(deadline: number): void;
}

/** Rows looked at per packing decision (a 4 KB message holds ~15 ticks). */
const PACK_PEEK = 512;

/**
 * Starts draining through `session`. `expiresAt` is when a fresh token must
 * replace this one (undefined: never, as for X.509 or a fixed token).
 */
export function startPump(
  options: PumpOptions,
  session: MqttSession,
  expiresAt: number | undefined,
  issuedAt: number,
): Pump {
  const { source, identity, log, stats, window, now } = options;
  let cursor = 0;
  const inFlight = new Set<number>();
  let paused = false;
  let ended = false;
  let idle: (() => void) | undefined;
  let renewTimer: ReturnType<typeof setTimeout> | undefined;
  let packTimer: ReturnType<typeof setTimeout> | undefined;
  let resolveDone!: (end: PumpEnd) => void;
  const done = new Promise<PumpEnd>((resolve) => resolveDone = resolve);

  const finish = (end: PumpEnd) => {
    if (ended) return;
    ended = true;
    clearTimeout(renewTimer);
    clearTimeout(packTimer);
    unsubscribe();
    resolveDone(end);
  };
  const settled = () => {
    stats.inFlight = inFlight.size;
    if (inFlight.size === 0) idle?.();
  };
  const send = (rows: QueuedMessage[], topic: string, body: string) => {
    const first = rows[0].seq;
    cursor = rows[rows.length - 1].seq;
    inFlight.add(first);
    stats.sent += rows.length;
    session.publish(topic, body, 1).then(
      () => {
        inFlight.delete(first);
        stats.acked += rows.length;
        settled();
        // The outbox may fail (a closed store at shutdown, a disk fault):
        // that ends this session, never the process.
        guarded(() => {
          for (const r of rows) source.ack(r.seq);
          if (inFlight.size <= window / 2) fill();
        });
      },
      (error) => {
        inFlight.delete(first);
        settled();
        if (!paused) finish({ kind: "lost", error });
      },
    );
  };
  const fill = () => {
    if (paused || ended) return;
    const pack = options.pack;
    while (inFlight.size < window) {
      if (!pack) {
        const batch = source.peek(cursor, window - inFlight.size);
        if (batch.length === 0) break;
        for (const m of batch) send([m], telemetryTopic(identity, m.props), m.body);
        continue;
      }
      // Packing: a group goes out when the next tick would not fit, or when
      // its oldest tick has waited maxDelay.
      const limit = Math.max(PACK_PEEK, Math.ceil(pack.maxBytes / 64));
      const rows = source.peek(cursor, limit);
      if (rows.length === 0) break;
      const more = rows.length === limit; // rows beyond this page exist
      const topicBytes = utf8Length(packedTopic(identity, [rows[0], rows[rows.length - 1]]));
      const group = chooseGroup(rows, pack.maxBytes, topicBytes);
      const waitFor = rows[0].created + pack.maxDelay - now();
      if (!group.full && !more && waitFor > 0) {
        clearTimeout(packTimer);
        packTimer = setTimeout(() => guarded(fill), Math.min(waitFor, 60_000));
        break;
      }
      const chosen = rows.slice(0, group.count);
      send(chosen, packedTopic(identity, chosen), packedBody(chosen));
    }
    stats.inFlight = inFlight.size;
  };
  /** Stops publishing and waits (bounded) for the window to empty. */
  const drain = (timeoutMs: number) =>
    new Promise<void>((resolve) => {
      paused = true;
      if (inFlight.size === 0) return resolve();
      const t = setTimeout(() => {
        idle = undefined;
        resolve();
      }, Math.max(0, timeoutMs));
      idle = () => {
        clearTimeout(t);
        idle = undefined;
        resolve();
      };
    });
  const scheduleRenewal = () => {
    if (expiresAt === undefined) return;
    const due = issuedAt + (expiresAt - issuedAt) * options.renewAt;
    const wait = due - now();
    if (wait <= 0) {
      log.info("renewing SAS token (planned reconnect)", {
        expires: new Date(expiresAt).toISOString(),
      });
      drain(options.drainTimeoutMs).then(() => finish({ kind: "renew" }));
      return;
    }
    // Re-evaluate at least every 30 s so a wall-clock jump is noticed.
    renewTimer = setTimeout(scheduleRenewal, Math.min(wait, 30_000));
  };
  const guarded = (f: () => void) => {
    try {
      f();
    } catch (error) {
      log.error("the outbox failed while sending; reconnecting", { error: String(error) });
      finish({ kind: "lost", error });
    }
  };

  const unsubscribe = source.onCommitted(() => guarded(fill));
  session.closed.then((reason) => finish({ kind: "lost", error: reason }));
  scheduleRenewal();
  guarded(fill);
  return {
    done,
    stop(deadline: number) {
      drain(deadline - performance.now()).then(() => finish({ kind: "stop" }));
    },
  };
}

/**
 * The sender: owns the one MQTT connection and drains queued messages through
 * it in order, with a window of in-flight QoS 1 publishes.
 *
 * - Reconnects with capped, fully jittered exponential backoff; network-class
 *   failures are retried forever, TLS-trust and auth failures slowly, with an
 *   error line each time (they need a human).
 * - Renews a SAS token as a planned reconnect at 80 % of its lifetime: pause,
 *   wait (bounded) for in-flight PUBACKs, DISCONNECT, CONNECT with a fresh
 *   token, resume. The schedule follows the wall clock and survives jumps.
 * - Unacknowledged messages are resent after a reconnect with the same
 *   `$.mid` (at-least-once; receivers dedupe on it).
 *
 * @module
 */
import { LeafError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { type Identity, telemetryTopic } from "../iothub/topics.ts";
import { chooseGroup, packedBody, packedTopic, type PackOptions } from "../agent/pack.ts";
import { utf8Length } from "../utf8.ts";
import { type BackoffOptions, createBackoff } from "./backoff.ts";
import { clockError, clockIsBeforeRelease } from "./classify.ts";
import type { Connector } from "./credentials.ts";
import { MqttSession } from "./mqtt.ts";

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

/** Counters for status lines and tests. */
export interface SenderStats {
  connected: boolean;
  sent: number;
  acked: number;
  inFlight: number;
  connects: number;
  reconnects: number;
  renewals: number;
  lastError?: string;
}

/** Options of {@linkcode createSender}. */
export interface SenderOptions {
  connector: Connector;
  source: MessageSource;
  identity: Identity;
  log: Logger;
  /** In-flight QoS 1 publishes. @default 32 */
  window?: number;
  /** Reconnect delays. */
  backoff?: BackoffOptions;
  /** Renew a SAS token at this fraction of its lifetime. @default 0.8 */
  renewAt?: number;
  /** Least delay before retrying after a TLS-trust or auth failure, ms. @default 60000 */
  slowRetryMs?: number;
  /** How long a renewal waits for in-flight PUBACKs, ms. @default 10000 */
  drainTimeoutMs?: number;
  /** Pack consecutive ticks into one message (config `telemetry.batch`); off when undefined. */
  pack?: PackOptions;
  /** Called after each CONNACK (subscribe to twin/methods/C2D here). */
  onSession?: (session: MqttSession) => Promise<void> | void;
  /** Wall clock. @default Date.now */
  now?: () => number;
  /** Random source for jitter. @default Math.random */
  random?: () => number;
}

/** The running sender. */
export interface Sender {
  readonly stats: SenderStats;
  /** The current session, when connected. */
  readonly session: MqttSession | undefined;
  /** Stops: no new publishes, waits up to `timeoutMs` for in-flight acks, disconnects. */
  stop(timeoutMs: number): Promise<void>;
}

/** Rows looked at per packing decision (a 4 KB message holds ~15 ticks). */
const PACK_PEEK = 512;

type PumpEnd = { kind: "renew" } | { kind: "stop" } | { kind: "lost"; error: unknown };

/** Starts the sender loop. */
export function createSender(options: SenderOptions): Sender {
  const window = options.window ?? 32;
  const renewAt = options.renewAt ?? 0.8;
  const slowRetryMs = options.slowRetryMs ?? 60_000;
  const drainTimeoutMs = options.drainTimeoutMs ?? 10_000;
  const now = options.now ?? Date.now;
  const log = options.log;
  const backoff = createBackoff({
    ...options.backoff,
    ...(options.random ? { random: options.random } : {}),
  });
  const target = options.connector.target;
  const where = `${target.host}:${target.port}`;

  const stats: SenderStats = {
    connected: false,
    sent: 0,
    acked: 0,
    inFlight: 0,
    connects: 0,
    reconnects: 0,
    renewals: 0,
  };
  let stopping = false;
  let session: MqttSession | undefined;
  let wakeSleep: (() => void) | undefined;
  let wakePump: ((end: PumpEnd) => void) | undefined;
  let stopDeadline = 0;

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        wakeSleep = undefined;
        resolve();
      }, ms);
      wakeSleep = () => {
        clearTimeout(t);
        wakeSleep = undefined;
        resolve();
      };
    });

  /** Drains the source through `s` until renewal time, loss or stop. */
  const pump = (
    s: MqttSession,
    /** When a fresh token must replace this one; undefined: never (X.509, fixed token). */
    expiresAt: number | undefined,
    issuedAt: number,
  ): Promise<PumpEnd> =>
    new Promise<PumpEnd>((resolve) => {
      let cursor = 0;
      const inFlight = new Set<number>();
      let paused = false;
      let ended = false;
      let idle: (() => void) | undefined;
      let renewTimer: ReturnType<typeof setTimeout> | undefined;

      const finish = (end: PumpEnd) => {
        if (ended) return;
        ended = true;
        clearTimeout(renewTimer);
        clearTimeout(packTimer);
        unsubscribe();
        wakePump = undefined;
        resolve(end);
      };
      let packTimer: ReturnType<typeof setTimeout> | undefined;
      const send = (rows: QueuedMessage[], topic: string, body: string) => {
        const first = rows[0].seq;
        cursor = rows[rows.length - 1].seq;
        inFlight.add(first);
        stats.sent += rows.length;
        s.publish(topic, body, 1).then(
          () => {
            inFlight.delete(first);
            stats.acked += rows.length;
            stats.inFlight = inFlight.size;
            if (inFlight.size === 0) idle?.();
            // The outbox may fail (a closed store at shutdown, a disk fault):
            // that ends this session, never the process.
            guarded(() => {
              for (const r of rows) options.source.ack(r.seq);
              // Refill at half the window: the refill's PUBLISH packets then
              // leave in one TLS write instead of one per PUBACK.
              if (inFlight.size <= window / 2) fill();
            });
          },
          (error) => {
            inFlight.delete(first);
            stats.inFlight = inFlight.size;
            if (inFlight.size === 0) idle?.();
            if (!paused) finish({ kind: "lost", error });
          },
        );
      };
      const fill = () => {
        if (paused || ended) return;
        const pack = options.pack;
        while (inFlight.size < window) {
          if (!pack) {
            const batch = options.source.peek(cursor, window - inFlight.size);
            if (batch.length === 0) break;
            for (const m of batch) send([m], telemetryTopic(options.identity, m.props), m.body);
            continue;
          }
          // Packing: a group goes out when the next tick would not fit, or
          // when its oldest tick has waited maxDelay.
          const limit = Math.max(PACK_PEEK, Math.ceil(pack.maxBytes / 64));
          const rows = options.source.peek(cursor, limit);
          if (rows.length === 0) break;
          const more = rows.length === limit; // rows beyond this page exist
          const topicBytes = utf8Length(
            packedTopic(options.identity, [rows[0], rows[rows.length - 1]]),
          );
          const group = chooseGroup(rows, pack.maxBytes, topicBytes);
          const waitFor = rows[0].created + pack.maxDelay - now();
          if (!group.full && !more && waitFor > 0) {
            clearTimeout(packTimer);
            packTimer = setTimeout(() => guarded(fill), Math.min(waitFor, 60_000));
            break;
          }
          const chosen = rows.slice(0, group.count);
          send(chosen, packedTopic(options.identity, chosen), packedBody(chosen));
        }
        stats.inFlight = inFlight.size;
      };
      /** Stop publishing and wait (bounded) for the window to empty. */
      const drain = (timeoutMs: number) =>
        new Promise<void>((done) => {
          paused = true;
          if (inFlight.size === 0) return done();
          const t = setTimeout(() => {
            idle = undefined;
            done();
          }, Math.max(0, timeoutMs));
          idle = () => {
            clearTimeout(t);
            idle = undefined;
            done();
          };
        });
      const scheduleRenewal = () => {
        if (expiresAt === undefined) return;
        const due = issuedAt + (expiresAt - issuedAt) * renewAt;
        const wait = due - now();
        if (wait <= 0) {
          log.info("renewing SAS token (planned reconnect)", {
            expires: new Date(expiresAt).toISOString(),
          });
          drain(drainTimeoutMs).then(() => finish({ kind: "renew" }));
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
      const unsubscribe = options.source.onCommitted(() => guarded(fill));
      wakePump = (end) => {
        if (end.kind === "stop") {
          drain(Math.max(0, stopDeadline - performance.now())).then(() => finish(end));
        }
      };
      s.closed.then((reason) => finish({ kind: "lost", error: reason }));
      if (stopping) return finish({ kind: "stop" });
      scheduleRenewal();
      guarded(fill);
    });

  const maxDelay = options.backoff?.maxDelay ?? 30_000;
  /** A link that stayed up this long resets the backoff. */
  const stableMs = Math.max(maxDelay, 10_000);
  let lostLogged = -Infinity;
  let lostSuppressed = 0;
  /** "connection lost" at most every 10 s, with a count of the ones in between. */
  const lostLog = (reason: string, delay: number) => {
    if (now() - lostLogged < 10_000 && now() >= lostLogged) {
      lostSuppressed++;
      return;
    }
    const more = lostSuppressed > 0 ? ` (${lostSuppressed} more since the last report)` : "";
    lostSuppressed = 0;
    lostLogged = now();
    log.warn(
      `connection to ${where} lost: ${reason}; reconnecting in ${
        (delay / 1000).toFixed(1)
      } s${more}`,
    );
  };

  const run = async () => {
    let first = true;
    let clockLogged = -Infinity;
    while (!stopping) {
      if (clockIsBeforeRelease(new Date(now()))) {
        // Certificates and tokens cannot be judged with this clock; wait for NTP.
        if (now() - clockLogged > 60_000 || clockLogged > now()) {
          clockLogged = now();
          stats.lastError = clockError(new Date(now())).oneLine();
          log.error(`not connecting: ${stats.lastError}`);
        }
        await sleep(5_000);
        continue;
      }
      let attempt;
      try {
        attempt = await options.connector.attempt(now());
        const issuedAt = now();
        const s = await MqttSession.open(attempt.options);
        if (stopping) {
          await s.end();
          break;
        }
        session = s;
        stats.connected = true;
        stats.connects++;
        if (!first) stats.reconnects++;
        first = false;
        const connectedAt = now();
        log.info(`connected to ${where}`, {
          client: attempt.options.clientId,
          ...(attempt.expiresAt ? { tokenExpires: new Date(attempt.expiresAt).toISOString() } : {}),
        });
        // Twin, methods and C2D in the background: telemetry never waits
        // for a SUBACK or a twin answer (edgeHub may be cut off from the hub).
        Promise.resolve()
          .then(() => options.onSession?.(s))
          .catch((error) => {
            if (!stopping) {
              log.warn("subscribing to twin, methods and C2D failed; telemetry continues", {
                error: String(error instanceof Error ? error.message : error),
              });
            }
          });
        const end = await pump(s, attempt.renewable ? attempt.expiresAt : undefined, issuedAt);
        session = undefined;
        stats.connected = false;
        if (end.kind === "renew") {
          stats.renewals++;
          await s.end();
          continue;
        }
        if (end.kind === "stop") {
          await s.end();
          break;
        }
        s.destroy(new LeafError("connection abandoned", 5, "closed"));
        const reason = end.error instanceof LeafError
          ? end.error.oneLine()
          : String(end.error ?? "closed");
        stats.lastError = reason;
        if (stopping) break;
        // Back to the first delay only after a link that held: a gateway that
        // accepts and drops at once (two devices sharing one identity) must not
        // be hammered every few milliseconds.
        if (now() - connectedAt >= stableMs) backoff.reset();
        const delay = backoff.next();
        lostLog(reason, delay);
        await sleep(delay);
      } catch (error) {
        session = undefined;
        stats.connected = false;
        if (stopping) break;
        const leaf = error instanceof LeafError ? error : undefined;
        const reason = leaf ? leaf.oneLine() : `unexpected error: ${String(error)}`;
        stats.lastError = reason;
        const needsHuman = !leaf || leaf.exitCode !== 5;
        const delay = needsHuman ? Math.max(slowRetryMs, backoff.next()) : backoff.next();
        if (needsHuman) {
          log.error(
            `${reason}; retrying in ${(delay / 1000).toFixed(1)} s`,
          );
        } else {log.warn(
            `${reason}; retrying in ${(delay / 1000).toFixed(1)} s`,
          );}
        await sleep(delay);
      }
    }
  };
  const running = run();

  return {
    stats,
    get session() {
      return session;
    },
    async stop(timeoutMs: number) {
      if (stopping) return running;
      stopping = true;
      stopDeadline = performance.now() + timeoutMs;
      wakeSleep?.();
      wakePump?.({ kind: "stop" });
      await running;
    },
  };
}
